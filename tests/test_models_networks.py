"""Structure and behaviour of the tss/sss/DARTS/ExtCell networks."""
from __future__ import annotations

import numpy as np
import pytest

import torch
from torch import nn  # noqa: E402

from natsbench.errors import InvalidArchError  # noqa: E402
from natsbench.models import available_spaces, create_model  # noqa: E402
from natsbench.models.cell_net import CellNetwork, SearchedCell, active_nodes  # noqa: E402
from natsbench.models.ops import FactorizedReduce, ResidualBlock, SepConv, Zero  # noqa: E402
from natsbench.models.tss_net import TopologyCell  # noqa: E402

TSS_ARCH0 = (
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
)
# DARTS V2 (Liu et al. 2019) as edges (to_node, from_node, op)
DARTS_V2 = {
    "normal": [(2, 0, "sep_conv_3x3"), (2, 1, "sep_conv_3x3"), (3, 0, "sep_conv_3x3"),
               (3, 1, "sep_conv_3x3"), (4, 1, "sep_conv_3x3"), (4, 0, "skip_connect"),
               (5, 0, "skip_connect"), (5, 2, "dil_conv_3x3")],
    "reduce": [(2, 0, "max_pool_3x3"), (2, 1, "max_pool_3x3"), (3, 2, "skip_connect"),
               (3, 1, "max_pool_3x3"), (4, 0, "max_pool_3x3"), (4, 2, "skip_connect"),
               (5, 2, "skip_connect"), (5, 1, "max_pool_3x3")],
}
# An ExtCell pair: two ops on the pair (2, 0), node 3 without inputs (inactive), node 4 fed
# only by the inactive node 3 (so inactive too), node 5 fed by 2 and the input 1.
EXTCELL = {
    "normal": [(2, 0, "sep_conv_3x3"), (2, 0, "skip_connect"), (4, 3, "sep_conv_5x5"),
               (5, 2, "dil_conv_3x3"), (5, 1, "avg_pool_3x3")],
    "reduce": [(2, 1, "max_pool_3x3"), (2, 1, "sep_conv_3x3"), (2, 0, "dil_conv_5x5")],
}


def _x(batch: int, size: int, channels: int = 3, seed: int = 0) -> "torch.Tensor":
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, channels, size, size, generator=g)


def test_registry_lists_the_four_spaces_and_rejects_others():
    assert set(available_spaces()) == {"tss", "sss", "darts", "extcell"}
    with pytest.raises(InvalidArchError, match="tss"):
        create_model(space="nasbench101", arch="x", num_classes=10)
    with pytest.raises(InvalidArchError, match="num_classes"):
        create_model(space="tss", arch=TSS_ARCH0, num_classes=0)
    with pytest.raises(TypeError):
        create_model(space="tss", arch=TSS_ARCH0, num_classes=10, widht=3)


@pytest.mark.parametrize(
    "space,arch,kwargs,size",
    [
        ("tss", TSS_ARCH0, {}, 32),
        ("tss", TSS_ARCH0, {"C": 8, "N": 1}, 16),
        ("sss", "64:8:16:56:24", {}, 16),
        ("sss", "8:8:8:8:8", {"in_channels": 1}, 8),
        ("darts", DARTS_V2, {"C": 8, "layers": 5}, 32),
        ("extcell", EXTCELL, {"C": 8, "layers": 6}, 16),
    ],
)
def test_forward_shapes(space, arch, kwargs, size):
    net = create_model(space=space, arch=arch, num_classes=7, **kwargs)
    channels = kwargs.get("in_channels", 3)
    net.eval()
    with torch.no_grad():
        out = net(_x(3, size, channels))
    assert out.shape == (3, 7)
    assert torch.isfinite(out).all()


def test_tss_skeleton_layout():
    net = create_model(space="tss", arch=TSS_ARCH0, num_classes=10)
    kinds = [type(c).__name__ for c in net.cells]
    assert kinds == ["TopologyCell"] * 5 + ["ResidualBlock"] + ["TopologyCell"] * 5 + \
        ["ResidualBlock"] + ["TopologyCell"] * 5
    assert [c.out_dim for c in net.cells] == [16] * 5 + [32] * 6 + [64] * 6
    block = net.cells[5]
    assert isinstance(block, ResidualBlock)
    pool, conv = block.downsample
    assert isinstance(pool, nn.AvgPool2d) and pool.kernel_size == 2 and pool.stride == 2
    assert conv.kernel_size == (1, 1) and conv.bias is None
    assert net.stem[0].kernel_size == (3, 3) and net.stem[0].out_channels == 16
    assert net.classifier.in_features == 64
    # resolution halves at each residual block
    feats = []
    handles = [c.register_forward_hook(lambda m, i, o: feats.append(o.shape[-1])) for c in net.cells]
    net(_x(1, 32))
    for h in handles:
        h.remove()
    assert feats == [32] * 5 + [16] * 6 + [8] * 6


def test_sss_widths_follow_the_string():
    net = create_model(space="sss", arch="8:16:24:32:40", num_classes=10)
    assert net.stem[0].out_channels == 8
    assert [c.out_dim for c in net.cells] == [8, 16, 24, 32, 40]
    assert [type(c).__name__ for c in net.cells] == [
        "TopologyCell", "ResidualBlock", "TopologyCell", "ResidualBlock", "TopologyCell"]
    # cell 3 maps 16 -> 24 on the edges leaving its input; its skip edge (3 <- 0) is a 1x1
    # conv + BN (stride-1 factorized reduction)
    cell = net.cells[2]
    skip = cell.layers[3]
    assert isinstance(skip, FactorizedReduce) and skip.stride == 1
    assert skip.conv.in_channels == 16 and skip.conv.out_channels == 24


def test_zero_edges_give_zero_node():
    # every edge into node 3 is none: the cell output is exactly zero
    cell = TopologyCell([(1, 0, "nor_conv_3x3"), (2, 0, "skip_connect"), (2, 1, "none"),
                         (3, 0, "none"), (3, 1, "none"), (3, 2, "none")], 4, 4)
    out = cell(_x(2, 5, 4))
    assert out.shape == (2, 4, 5, 5) and torch.count_nonzero(out) == 0
    # skip + none: node 1 is its input, node 3 = node 1 + node 2 = 2x
    cell = TopologyCell([(1, 0, "skip_connect"), (2, 0, "none"), (2, 1, "skip_connect"),
                         (3, 0, "none"), (3, 1, "skip_connect"), (3, 2, "skip_connect")], 4, 4)
    x = _x(2, 5, 4)
    assert torch.equal(cell(x), 2 * x)


def test_invalid_tss_string_raises():
    with pytest.raises(InvalidArchError):
        create_model(space="tss", arch="|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|",
                     num_classes=10)
    with pytest.raises(InvalidArchError):
        create_model(space="sss", arch="8:8:8:8", num_classes=10)


def test_ops_shapes_and_param_counts():
    # DARTS sep_conv_3x3 8->8: two (dw 3x3: 8*9, pw: 8*8, BN: 2*8) = 2*(72+64+16)
    sep = SepConv(8, 8, 3, 1)
    assert sum(p.numel() for p in sep.parameters()) == 2 * (72 + 64 + 16)
    fr = FactorizedReduce(6, 10, 2)
    assert fr(_x(2, 7, 6)).shape == (2, 10, 4, 4)
    assert Zero(6, 6, 2)(_x(2, 7, 6)).shape == (2, 6, 4, 4)


def test_active_nodes_rule():
    # node 3 has no input, node 4 only from 3 -> both inactive; 'none' edges do not activate
    edges = [(2, 0, "skip_connect"), (4, 3, "sep_conv_3x3"), (5, 1, "none"), (5, 2, "skip_connect")]
    assert active_nodes(edges, 4) == [2, 5]
    assert active_nodes([(2, 0, "none")], 4) == []


def test_extcell_inactive_nodes_excluded_and_multi_ops_summed():
    cell = SearchedCell(EXTCELL["normal"], 4, 12, 12, 8, reduction=False, reduction_prev=False)
    assert cell.concat == [2, 5]
    assert cell.out_dim == 16
    # the edge leaving the inactive node 3 builds nothing
    assert sorted(cell.edges.keys()) == ["2_0_0", "2_0_1", "5_1_0", "5_2_0"]
    cell.eval()
    s0, s1 = _x(2, 6, 12, seed=1), _x(2, 6, 12, seed=2)
    with torch.no_grad():
        out = cell(s0, s1)
        p0 = cell.preprocess0(s0)
        node2 = cell.edges["2_0_0"](p0) + cell.edges["2_0_1"](p0)
    assert out.shape == (2, 16, 6, 6)
    torch.testing.assert_close(out[:, :8], node2)


def test_cell_without_active_nodes_outputs_zeros_and_network_still_learns():
    cell = SearchedCell([(3, 2, "skip_connect")], 4, 8, 8, 8, reduction=True, reduction_prev=False)
    assert cell.concat == [] and len(cell.edges) == 0
    out = cell(_x(2, 7, 8), _x(2, 7, 8))
    assert out.shape == (2, 8, 4, 4) and torch.count_nonzero(out) == 0
    # a network whose normal cells are empty: information still flows through the
    # reduction cells (every cell reads the cell two back), and gradients reach the stem
    torch.manual_seed(0)
    net = CellNetwork([], DARTS_V2["reduce"], 5, C=4, layers=3)
    out = net(_x(4, 8))
    out.sum().backward()
    assert net.stem[0].weight.grad is not None and net.stem[0].weight.grad.abs().sum() > 0


def test_extcell_forward_backward_with_unconnected_nodes():
    torch.manual_seed(0)
    net = create_model(space="extcell", arch=EXTCELL, num_classes=4, C=6, layers=5,
                       drop_path_prob=0.2)
    net.train()
    x = _x(4, 16)
    loss = nn.functional.cross_entropy(net(x), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


def test_darts_rejects_cells_outside_the_darts_space():
    with pytest.raises(InvalidArchError, match="extcell"):
        create_model(space="darts", arch=EXTCELL, num_classes=10)
    with pytest.raises(InvalidArchError, match="node"):
        CellNetwork([(7, 0, "skip_connect")], DARTS_V2["reduce"], 10)
    with pytest.raises(InvalidArchError, match="unknown operation"):
        CellNetwork([(2, 0, "conv_9x9")], DARTS_V2["reduce"], 10)


def test_darts_reductions_at_one_and_two_thirds():
    net = create_model(space="darts", arch=DARTS_V2, num_classes=10, C=4, layers=8)
    assert [c.reduction for c in net.cells] == [False, False, True, False, False, True, False, False]
    assert [c.c for c in net.cells] == [4, 4, 8, 8, 8, 16, 16, 16]


@pytest.mark.parametrize(
    "space,arch,kwargs",
    [("tss", TSS_ARCH0, {"N": 1}), ("sss", "8:16:8:16:8", {}),
     ("extcell", EXTCELL, {"C": 4, "layers": 3})],
)
def test_seeded_construction_and_training_step_are_deterministic(space, arch, kwargs):
    def run(seed: int = 123) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
        torch.manual_seed(seed)
        net = create_model(space=space, arch=arch, num_classes=3, **kwargs)
        init = [p.detach().numpy().copy() for p in net.parameters()]
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        x = _x(4, 16)
        loss = nn.functional.cross_entropy(net(x), torch.tensor([0, 1, 2, 0]))
        loss.backward()
        opt.step()
        trained = [p.detach().numpy().copy() for p in net.parameters()]
        return init, trained, net.eval()(x).detach().numpy()

    init_a, params_a, out_a = run()
    init_b, params_b, out_b = run()
    assert all(np.array_equal(a, b) for a, b in zip(init_a, init_b))
    assert all(np.array_equal(a, b) for a, b in zip(params_a, params_b))
    assert np.array_equal(out_a, out_b)
    init_c, _, _ = run(seed=124)
    assert not all(np.array_equal(a, c) for a, c in zip(init_a, init_c))


@pytest.mark.parametrize("space,options", [("darts", {}), ("extcell", {"k": 6}), ("extcell", {"k": 30})])
def test_strings_sampled_from_the_spaces_build_and_run(space, options):
    import importlib

    from natsbench.spaces import get_space

    module = importlib.import_module(f"natsbench.spaces.{space}")
    sampler = get_space(space, **options)
    rng = np.random.default_rng(7)
    for _ in range(3):
        arch = sampler.sample(rng)
        genotype = module.parse(arch)
        torch.manual_seed(0)
        net = create_model(space=space, arch=arch, num_classes=5, C=4, layers=3)
        # our active-node rule agrees with the space's reachability (independent code)
        for cell in net.cells:
            expected = genotype.reduce_concat if cell.reduction else genotype.normal_concat
            assert tuple(cell.concat) == tuple(expected)
            ops = genotype.reduce if cell.reduction else genotype.normal
            live = set(expected) | {0, 1}
            assert len(cell.edges) == sum(1 for _, src, _ in ops if src in live)
        out = net(_x(2, 8))
        assert out.shape == (2, 5) and torch.isfinite(out).all()
        out.sum().backward()


def test_darts_repr_string_builds_the_published_network():
    from natsbench.models.costs import count_params

    darts_v2 = (
        "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
        "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
        "('dil_conv_3x3', 2)], normal_concat=range(2, 6), reduce=[('max_pool_3x3', 0), "
        "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
        "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=range(2, 6))"
    )
    from_string = create_model(space="darts", arch=darts_v2, num_classes=10, C=36, layers=20)
    from_edges = create_model(space="darts", arch=DARTS_V2, num_classes=10, C=36, layers=20)
    assert count_params(from_string) == count_params(from_edges)
    assert [sorted(c.edges.keys()) for c in from_string.cells] == \
        [sorted(c.edges.keys()) for c in from_edges.cells]
    with pytest.raises(InvalidArchError):
        create_model(space="darts", arch="normal=||+||+||+||;reduce=||+||+||+||", num_classes=10)
