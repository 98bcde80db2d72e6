"""The weight-sharing supernet of the size search space (sss).

Skeleton: the sss network (:mod:`natsbench.models.sss_net`: stem, cell, residual block,
cell, residual block, cell, BN-ReLU-pool-linear head; the fixed cell ``SSS_TOPOLOGY``) with
every layer at the largest candidate width ``W`` (64), and one logit tensor ``[5, K]``
(positions x candidate widths ``candidates``, ``K`` = 8: 8, 16, ..., 64).

Position ``p`` of the ``C1:C2:C3:C4:C5`` string drives the output width of these layers, as
in the official size supernet (``GenericNAS301Model``) and the sss network the benchmark
trains (:data:`LAYER_POSITIONS`):

    position 0 (C1): the stem and cell 1
    position 1 (C2): residual block 1 (stride 2)
    position 2 (C3): cell 2
    position 3 (C4): residual block 2 (stride 2)
    position 4 (C5): cell 3 (and so the head)

A width ``c`` is realised on a layer's output ``[B, W, H, W']``, never inside a cell (as the
official supernet): the output is multiplied by a channel mask (ones on the first ``c``
channels).  One width choice per position serves both layers of position 0 (the official code
draws the stem's and cell 1's samples separately; we draw one, so every forward is a network
of the space).  The forward ``mode``:

==========  ===========================================================================
``path``    ``index`` ``[5]``: candidate positions (0..K-1) per position; hard masks
            (candidate scoring, TuNAS's sampled architectures, warm-up paths).
``mask``    ``masks`` ``[5, W]``: any (soft) masks, e.g. FBNet-V2's expected mask
            ``gumbel_softmax(logits) @ width_masks``; gradients flow into them.
``interp``  ``index`` ``[5, n]`` and ``probs`` ``[5, n]`` (TAS: n = 2): the first ``c1``
            and the first ``c2`` channels are each resized to ``max(c1, c2)`` channels by
            adaptive average pooling over channels (:func:`channel_interp`), mixed with
            the probabilities and zero-padded to ``W`` (one 1x1 channel map per layer).
==========  ===========================================================================

BatchNorm, as the official search runs (``--affine 0 --track_running_stats 0``): the stem BN,
the BNs inside the cells' operations and the head's BN have no affine parameters and always
use batch statistics; the residual blocks keep affine BNs with running statistics.  The stem
convolution has a bias (the official ``bias=not affine``).

Inputs ``[B, in_channels, H, W]``, logits ``[B, num_classes]``; any device and memory format.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from natsbench._optional import require

require("torch", extra="train")  # before importing it: a missing torch names the extra
import torch  # noqa: E402
from torch import nn
from torch.nn import functional as F

from natsbench.errors import InvalidArchError
from natsbench.models.ops import ResidualBlock
from natsbench.models.sss_net import SSS_TOPOLOGY
from natsbench.models.tss_net import TopologyCell

__all__ = ["SssSupernet", "SssFlops", "MODES", "LAYER_POSITIONS", "channel_interp",
           "interp_matrix", "width_masks"]

#: forward modes (see the module docstring)
MODES: tuple[str, ...] = ("path", "mask", "interp")
#: the position of the width string that drives each layer: stem, cell 1, block 1, cell 2,
#: block 2, cell 3
LAYER_POSITIONS: tuple[int, ...] = (0, 0, 1, 2, 3, 4)
NUM_POSITIONS = 5
#: (input, output) positions of the cells whose skip edge is a convolution when they differ
_SKIP_PAIRS: tuple[tuple[int, int], ...] = ((1, 2), (3, 4))


def width_masks(candidates: Sequence[int], width: int) -> torch.Tensor:
    """``[K, width]`` float masks: row ``k`` has ones on the first ``candidates[k]`` channels."""
    masks = torch.zeros(len(candidates), width)
    for k, c in enumerate(candidates):
        masks[k, :c] = 1.0
    return masks


@lru_cache(maxsize=256)
def interp_matrix(c_in: int, c_out: int) -> torch.Tensor:
    """``[c_out, c_in]`` (CPU float32) averaging matrix of adaptive average pooling over
    channels: output channel ``i`` is the mean of input channels ``floor(i c_in / c_out)`` to
    ``ceil((i + 1) c_in / c_out) - 1`` (TAS's channel-wise interpolation, thesis eq. 3.12)."""
    m = torch.zeros(c_out, c_in)
    for i in range(c_out):
        s, e = (i * c_in) // c_out, -((-(i + 1) * c_in) // c_out)
        m[i, s:e] = 1.0 / (e - s)
    return m


def channel_interp(x: torch.Tensor, c_out: int) -> torch.Tensor:
    """``x`` ``[B, C, H, W]`` resized to ``[B, c_out, H, W]`` by adaptive average pooling over
    the channel axis (identity for ``C == c_out``)."""
    c_in = x.shape[1]
    if c_in == c_out:
        return x
    m = interp_matrix(c_in, c_out).to(device=x.device, dtype=x.dtype)
    return torch.einsum("oc,bchw->bohw", m, x)


class SssSupernet(nn.Module):
    """The sss supernet (see the module docstring).

    Args:
        num_classes: classifier outputs.
        candidates: the candidate widths, increasing (NATS-Bench: 8, 16, ..., 64); every
            layer is built at ``max(candidates)``.
        in_channels: image channels.

    Attributes:
        arch_logits: ``nn.Parameter`` ``[5, K]``, initialised ``1e-3 * N(0, 1)`` from torch's
            global RNG (seed it first).  Not part of :meth:`weights`.
        width_masks: buffer ``[K, W]`` (:func:`width_masks`).
    """

    def __init__(self, num_classes: int, candidates: Sequence[int] = (8, 16, 24, 32, 40, 48, 56, 64),
                 in_channels: int = 3) -> None:
        super().__init__()
        cands = tuple(int(c) for c in candidates)
        if (not cands or list(cands) != sorted(set(cands)) or cands[0] < 1 or num_classes < 1
                or in_channels < 1):
            raise InvalidArchError(f"candidates must be increasing positive widths and "
                                   f"num_classes, in_channels >= 1; got candidates={candidates}, "
                                   f"num_classes={num_classes}, in_channels={in_channels}")
        from natsbench.spaces import tss

        W = cands[-1]
        self.candidates, self.max_width, self.num_classes = cands, W, num_classes
        edges = [(to, frm, op) for (to, frm), op in zip(tss.EDGES, tss.parse(SSS_TOPOLOGY))]
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, W, kernel_size=3, padding=1, bias=True),
            nn.BatchNorm2d(W, affine=False, track_running_stats=False))
        self.cells = nn.ModuleList([
            TopologyCell(edges, W, W, affine=False, track_running_stats=False),
            ResidualBlock(W, W, 2),
            TopologyCell(edges, W, W, affine=False, track_running_stats=False),
            ResidualBlock(W, W, 2),
            TopologyCell(edges, W, W, affine=False, track_running_stats=False)])
        self.lastact = nn.Sequential(
            nn.BatchNorm2d(W, affine=False, track_running_stats=False), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(W, num_classes)
        self.register_buffer("width_masks", width_masks(cands, W), persistent=False)
        # TAS's channel maps, built once: [i, j] is interp_matrix(c_i, c_j) zero-padded to
        # [W, W] for c_i <= c_j (K x K x W x W floats; 1 MiB for the 8 widths at W = 64)
        bank = torch.zeros(len(cands), len(cands), W, W)
        for i, ci in enumerate(cands):
            for j, cj in enumerate(cands):
                if ci <= cj:
                    bank[i, j, :cj, :ci] = interp_matrix(ci, cj)
        self.register_buffer("interp_bank", bank, persistent=False)
        self.arch_logits = nn.Parameter(1e-3 * torch.randn(NUM_POSITIONS, len(cands)))

    # -- the weight-sharing engine's supernet interface ---------------------------------------
    def weights(self) -> list[nn.Parameter]:
        """The shared weights (every parameter except :attr:`arch_logits`)."""
        return [p for name, p in self.named_parameters() if name != "arch_logits"]

    def arch_parameters(self) -> list[nn.Parameter]:
        """``[arch_logits]``."""
        return [self.arch_logits]

    def widths_of(self, index: Sequence[int]) -> list[int]:
        """The widths ``[5]`` of candidate positions ``index`` ``[5]``."""
        return [self.candidates[int(k)] for k in index]

    # -- forward --------------------------------------------------------------------------------
    def _check_index(self, index: object, shape: tuple[int, ...]) -> list:
        idx = torch.as_tensor(index).tolist()
        flat = torch.as_tensor(idx).flatten().tolist()
        if (list(torch.as_tensor(idx).shape) != list(shape)
                or not all(0 <= int(k) < len(self.candidates) for k in flat)):
            raise InvalidArchError(f"index must be {list(shape)} candidate positions in "
                                   f"0..{len(self.candidates) - 1}; got {index!r}")
        return idx

    def _layer_fns(self, mode: str, index: object, masks: torch.Tensor | None,
                   probs: torch.Tensor | None) -> list:
        """Per position, the function realising its width on a layer output (None: keep)."""
        W = self.max_width
        if mode == "path":
            idx = self._check_index(index, (NUM_POSITIONS,))
            fns: list = []
            for k in idx:
                if self.candidates[k] == W:
                    fns.append(None)
                else:
                    m = self.width_masks[k].view(1, -1, 1, 1)
                    fns.append(lambda h, m=m: h * m)
            return fns
        if mode == "mask":
            if masks is None or tuple(masks.shape) != (NUM_POSITIONS, W):
                raise InvalidArchError(f"mode 'mask' needs masks [{NUM_POSITIONS}, {W}]; got "
                                       f"{None if masks is None else tuple(masks.shape)}")
            return [lambda h, m=masks[p].view(1, -1, 1, 1): h * m for p in range(NUM_POSITIONS)]
        if mode == "interp":
            shape = tuple(torch.as_tensor(index).shape)
            if len(shape) != 2 or shape[0] != NUM_POSITIONS or shape[1] < 1:
                raise InvalidArchError(f"mode 'interp' needs index [{NUM_POSITIONS}, n]; got "
                                       f"{index!r}")
            idx = self._check_index(index, shape)
            if probs is None or tuple(probs.shape) != shape:
                raise InvalidArchError(f"mode 'interp' needs probs of index's shape {list(shape)}")
            return [self._interp_fn([self.candidates[k] for k in idx[p]], probs[p])
                    for p in range(NUM_POSITIONS)]
        raise InvalidArchError(f"unknown supernet mode {mode!r}; valid: {', '.join(MODES)}")

    def _interp_fn(self, widths: Sequence[int], p: torch.Tensor):
        """TAS's mix on one layer as one channel map ``[W, W]``: ``sum_i p[i] CWI(h[:, :c_i],
        max(c))`` zero-padded to ``W`` (rows beyond ``max(c)`` zero); a 1x1 convolution."""
        k = [self.candidates.index(ci) for ci in widths]
        top = max(k)                                   # candidates increase
        parts = [self.interp_bank[i, top].to(p.device, p.dtype) for i in k]
        matrix = sum((p[i] * a for i, a in enumerate(parts[1:], 1)), p[0] * parts[0])
        return lambda h: F.conv2d(h, matrix[:, :, None, None].to(h.dtype))

    def layer_outputs(self, x: torch.Tensor, mode: str = "path", index: object = None,
                      masks: torch.Tensor | None = None, probs: torch.Tensor | None = None
                      ) -> list[torch.Tensor]:
        """The 6 layer outputs ``[B, W, h, w]`` after their widths are realised (stem, cell 1,
        block 1, cell 2, block 2, cell 3); arguments as :meth:`forward`."""
        if mode == "path" and index is None:
            index = [len(self.candidates) - 1] * NUM_POSITIONS
        fns = self._layer_fns(mode, index, masks, probs)
        outs = []
        for layer, pos in zip((self.stem, *self.cells), LAYER_POSITIONS):
            x = layer(x)
            if fns[pos] is not None:
                x = fns[pos](x)
            outs.append(x)
        return outs

    def forward(self, x: torch.Tensor, mode: str = "path", index: object = None,
                masks: torch.Tensor | None = None, probs: torch.Tensor | None = None
                ) -> torch.Tensor:
        """Logits ``[B, num_classes]`` of images ``x`` ``[B, C_in, H, W]`` (module docstring).

        ``path``: ``index`` ``[5]`` candidate positions (default: all full width).
        ``mask``: ``masks`` ``[5, W]``.  ``interp``: ``index`` ``[5, n]``, ``probs`` ``[5, n]``
        (TAS: n = 2).
        """
        x = self.layer_outputs(x, mode, index, masks, probs)[-1]
        x = torch.flatten(self.global_pooling(self.lastact(x)), 1)
        return self.classifier(x)

class SssFlops:
    """FLOPs (M, NATS-Bench convention, :func:`natsbench.models.costs.count_flops`) of the sss
    networks of ``candidates`` for ``num_classes`` and images ``[C, H, W]``, and their
    expectation under independent per-position width distributions (TAS's ``E_cost``).

    An sss network's FLOPs are a polynomial of degree 2 in its five widths (every convolution
    and linear layer costs ``c_in x c_out x`` a constant; C1 drives both the stem and cell 1)
    plus the skip edges of cells 2 and 3, which are a 1x1 convolution only where the cell's
    input width differs from its own (``[C2 != C3] C2 C3``, ``[C4 != C5] C4 C5``), so its 23
    coefficients are solved exactly from the counted FLOPs of 48 networks; then ``E[FLOPs]``
    uses ``E[c_i c_j] = E[c_i] E[c_j]`` (i != j), ``E[c_i^2]`` and ``E[[c_i != c_j] c_i c_j] =
    E[c_i] E[c_j] - sum_k p_ik p_jk c_k^2``.
    """

    def __init__(self, candidates: Sequence[int], num_classes: int, image: Sequence[int]) -> None:
        import itertools

        import numpy as np

        from natsbench.models.costs import count_flops
        from natsbench.models.sss_net import build_sss_network
        from natsbench.spaces import sss

        self.candidates = tuple(int(c) for c in candidates)
        self._pairs = list(itertools.combinations_with_replacement(range(NUM_POSITIONS), 2))
        rng = np.random.default_rng(0)
        widths = rng.choice(self.candidates, size=(48, NUM_POSITIONS))
        shape = (1, *[int(v) for v in image])
        with torch.random.fork_rng(devices=[]):
            flops = [count_flops(build_sss_network(sss.to_str(w.tolist()), num_classes,
                                                   in_channels=shape[1]), shape)
                     for w in widths]
        design = np.stack([self._monomials(w.astype(np.float64)) for w in widths])
        self.coef, *_ = np.linalg.lstsq(design, np.asarray(flops, dtype=np.float64), rcond=None)

    def _monomials(self, w):
        import numpy as np

        return np.concatenate([[1.0], w, [w[i] * w[j] for i, j in self._pairs],
                               [w[i] * w[j] * (w[i] != w[j]) for i, j in _SKIP_PAIRS]])

    def of_widths(self, widths: Sequence[int]) -> float:
        """FLOPs (M) of the network with ``widths`` ``[5]``."""
        import numpy as np

        return float(self._monomials(np.asarray(widths, dtype=np.float64)) @ self.coef)

    def of_index(self, index: Sequence[int]) -> float:
        """FLOPs (M) of the network of candidate positions ``index`` ``[5]``."""
        return self.of_widths([self.candidates[int(k)] for k in index])

    def expected(self, probs: torch.Tensor) -> torch.Tensor:
        """Expected FLOPs (M, differentiable) under ``probs`` ``[5, K]`` (rows independent)."""
        c = torch.tensor(self.candidates, dtype=probs.dtype, device=probs.device)
        coef = torch.tensor(self.coef, dtype=probs.dtype, device=probs.device)
        mean, square = probs @ c, probs @ (c * c)
        terms = [torch.ones((), dtype=probs.dtype, device=probs.device), *mean]
        terms += [square[i] if i == j else mean[i] * mean[j] for i, j in self._pairs]
        terms += [mean[i] * mean[j] - (probs[i] * probs[j] * c * c).sum() for i, j in _SKIP_PAIRS]
        return (torch.stack(terms) * coef).sum()
