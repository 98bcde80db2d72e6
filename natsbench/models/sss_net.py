"""The size-search-space (sss) network of NATS-Bench.

Same skeleton as tss (:class:`natsbench.models.tss_net.MacroNetwork`) with N = 1 cell per stage,
every cell the fixed topology that is best on CIFAR-100 in tss (thesis section 5.2.1):

    |nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|

The five numbers of an sss string ``C1:C2:C3:C4:C5`` are the widths of the five layers in order
(as in the official ``DynamicShapeTinyNet``, where a channel list of length 3N + 2 gives one width
per layer):

    C1: stem output and cell 1           (input resolution)
    C2: residual block 1 (stride 2)      (1/2 resolution)
    C3: cell 2
    C4: residual block 2 (stride 2)      (1/4 resolution)
    C5: cell 3, the final BN and the classifier input

A cell whose input width differs from its own (C2 -> C3, C4 -> C5) maps the width on the edges
leaving its input node: the 3x3 convolutions map it directly, the skip edge becomes a
1x1 Conv-BN (a stride-1 factorized reduction).  This reproduces the official parameter and
FLOP counts, e.g. ``8:8:40:32:40`` on CIFAR-10: 0.144834 M params, 21.827994 MFLOPs.
"""
from __future__ import annotations

from natsbench.models.tss_net import MacroNetwork

__all__ = ["SSS_TOPOLOGY", "build_sss_network"]

#: The fixed cell of every sss network, as a tss string.
SSS_TOPOLOGY = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
)


def build_sss_network(arch: str, num_classes: int, in_channels: int = 3) -> MacroNetwork:
    """The sss network of ``arch`` (``C1:C2:C3:C4:C5``, each in 8, 16, ..., 64).

    Raises InvalidArchError for a bad string.
    """
    from natsbench.spaces import sss, tss

    widths = sss.parse(arch)
    ops = tss.parse(SSS_TOPOLOGY)
    edges = [(to, frm, op) for (to, frm), op in zip(tss.EDGES, ops)]
    return MacroNetwork(widths, edges, num_classes, in_channels=in_channels)
