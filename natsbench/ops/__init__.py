"""natsbench.ops: convolution kernels shared by the networks (imports torch only when used).

Submodules (import them directly; this package itself does not import torch):

* :mod:`natsbench.ops.fft_conv` -- ``fft_conv1d`` / ``fft_conv2d``: stride-1 convolution through
  real FFTs, equal to ``torch.nn.functional.conv1d`` / ``conv2d`` (any kernel size, dilation,
  "same"/"valid"/integer/causal padding, groups), differentiable.
* :mod:`natsbench.ops.aggregated_conv` -- DASH's aggregated convolution over kernel sizes x
  dilations (``AggregatedConv1d`` / ``AggregatedConv2d``) with three interchangeable
  implementations (``mixed_results``, ``mixed_weights``, ``fft``) and discretization.
* :mod:`natsbench.ops.gumbel` -- ``gumbel_noise`` / ``gumbel_perturb``: the one Gumbel draw of
  every search that samples (DASH's Gumbel mixing, GDAS, TAS, FBNet-V2).

The WRN backbones that use them are in :mod:`natsbench.models.wrn`; the speed comparison of the
three implementations is ``benchmarks/aggconv.py``.
"""
