"""Weight-sharing search on the size space (sss): the supernet's three width realisations,
TAS / FBNet-V2 / TuNAS, warm-up, the cost target and the per-epoch rows."""
from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from natsbench.errors import QueryError  # noqa: E402
from natsbench.models.sss_supernet import (  # noqa: E402
    LAYER_POSITIONS, SssFlops, SssSupernet, channel_interp, interp_matrix)
from natsbench.resources import BUNDLED_SSS, BUNDLED_TSS, bundled_path  # noqa: E402
from natsbench.spaces import sss  # noqa: E402
from search_algorithms.weight_sharing import get_config, run_search  # noqa: E402
from search_algorithms.weight_sharing.engine import ROW_COLUMNS, row_columns  # noqa: E402

BENCH = bundled_path(*BUNDLED_SSS)
SSS_ALGOS = ("tas", "fbnetv2", "tunas")
TINY = dict(epochs=2, batch_size=16, eval_batch_size=16)
TOY = (2, 4, 6, 8)          # candidate widths of a toy supernet


def _toy(num_classes=5, seed=0):
    torch.manual_seed(seed)
    return SssSupernet(num_classes, candidates=TOY).double()


def _x(n=6, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 8, 8, generator=g, dtype=torch.float64), torch.randint(0, 5, (n,), generator=g)


# -- the supernet ----------------------------------------------------------------------------
def test_hard_masks_give_the_width_of_each_position():
    net = _toy()
    x, _ = _x()
    index = [0, 3, 1, 2, 1]                       # widths 2, 8, 4, 6, 4
    outs = net.layer_outputs(x, "path", index=index)
    assert len(outs) == len(LAYER_POSITIONS) == 6
    for out, pos in zip(outs, LAYER_POSITIONS):
        c = TOY[index[pos]]
        assert out.shape[1] == 8
        assert torch.count_nonzero(out[:, c:]) == 0, (pos, c)
        assert torch.count_nonzero(out[:, :c]) > 0
    # the stem and cell 1 (position 0) share one width: 2
    assert torch.count_nonzero(outs[0][:, 2:]) == 0 and torch.count_nonzero(outs[1][:, 2:]) == 0
    # masks: a one-hot mask row is the hard mask of its width
    one_hot = torch.nn.functional.one_hot(torch.tensor(index), len(TOY)).double()
    via_masks = net(x, "mask", masks=one_hot @ net.width_masks.double())
    torch.testing.assert_close(via_masks, net(x, "path", index=index), rtol=0, atol=1e-12)


def test_expected_mask_is_the_probability_of_keeping_each_channel():
    from search_algorithms.weight_sharing.fbnetv2 import expected_masks

    net = _toy()
    logits = torch.randn(5, 4, dtype=torch.float64)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    masks = expected_masks(logits, net.width_masks, 2.0, g1)
    noise = -torch.empty(5, 4).exponential_(generator=g2).log().double()
    w = torch.softmax((logits.log_softmax(-1) + noise) / 2.0, -1)
    for p in range(5):
        for j in range(8):       # channel j is kept by every candidate wider than j
            want = sum(float(w[p, k]) for k, c in enumerate(TOY) if c > j)
            assert float(masks[p, j]) == pytest.approx(want, abs=1e-12)


def _hand_pool(h: torch.Tensor, c_out: int) -> torch.Tensor:
    """Adaptive average pooling over channels written out: output i averages input channels
    floor(i C / c_out) .. ceil((i + 1) C / c_out) - 1."""
    c_in = h.shape[1]
    out = []
    for i in range(c_out):
        s, e = math.floor(i * c_in / c_out), math.ceil((i + 1) * c_in / c_out)
        out.append(h[:, s:e].mean(dim=1))
    return torch.stack(out, dim=1)


def test_interpolation_matches_hand_computed_adaptive_pooling():
    g = torch.Generator().manual_seed(0)
    h = torch.randn(2, 8, 3, 3, generator=g, dtype=torch.float64)
    for c_in, c_out in ((2, 6), (4, 6), (6, 8), (3, 7), (5, 5)):
        got = channel_interp(h[:, :c_in], c_out)
        torch.testing.assert_close(got, _hand_pool(h[:, :c_in], c_out), rtol=0, atol=1e-12)
        torch.testing.assert_close(
            got, torch.nn.functional.adaptive_avg_pool3d(h[:, :c_in], (c_out, 3, 3)),
            rtol=0, atol=1e-12)
    assert interp_matrix(2, 6).sum(dim=1).allclose(torch.ones(6))
    # one layer of TAS: widths 4 and 6 with weights 0.3 / 0.7, resized to 6 and zero-padded to 8
    net = _toy()
    p = torch.tensor([0.3, 0.7], dtype=torch.float64)
    mixed = net._interp_fn([4, 6], p)(h)
    want = torch.zeros_like(h)
    want[:, :6] = 0.3 * _hand_pool(h[:, :4], 6) + 0.7 * h[:, :6]
    torch.testing.assert_close(mixed, want, rtol=0, atol=1e-12)
    # through the network: outputs of a position beyond max(c1, c2) are zero
    x, _ = _x()
    index = [[0, 1], [3, 2], [1, 0], [2, 3], [0, 2]]
    probs = torch.full((5, 2), 0.5, dtype=torch.float64)
    for out, pos in zip(net.layer_outputs(x, "interp", index=index, probs=probs), LAYER_POSITIONS):
        c = max(TOY[k] for k in index[pos])
        assert torch.count_nonzero(out[:, c:]) == 0


def test_gradients_reach_the_logits_in_fbnetv2_and_tas_but_not_with_one_sampled_width():
    from search_algorithms.weight_sharing.fbnetv2 import expected_masks
    from search_algorithms.weight_sharing.tas import select_widths

    x, y = _x()
    loss = torch.nn.functional.cross_entropy
    net = _toy()
    masks = expected_masks(net.arch_logits, net.width_masks, 5.0, torch.Generator().manual_seed(1))
    loss(net(x, "mask", masks=masks), y).backward()
    assert net.arch_logits.grad is not None and bool((net.arch_logits.grad != 0).all())

    net = _toy()
    index, probs = select_widths(net.arch_logits, 5.0, torch.Generator().manual_seed(1), num=2)
    assert all(a != b for a, b in index.tolist())             # two distinct widths
    loss(net(x, "interp", index=index, probs=probs), y).backward()
    grad = net.arch_logits.grad
    assert grad is not None
    for p, (a, b) in enumerate(index.tolist()):              # the sampled pair of every row
        assert grad[p, a] != 0 and grad[p, b] != 0

    net = _toy()
    index, probs = select_widths(net.arch_logits, 5.0, torch.Generator().manual_seed(1), num=1)
    assert torch.equal(probs, torch.ones_like(probs))
    loss(net(x, "interp", index=index, probs=probs), y).backward()
    grad = net.arch_logits.grad
    assert grad is None or torch.count_nonzero(grad) == 0
    assert any(p.grad is not None and torch.count_nonzero(p.grad) for p in net.weights())


def test_tunas_reinforce_update_matches_a_hand_computation():
    """2 widths per position: loss -(R - b) sum log p(k), b the bias-corrected EMA."""
    from search_algorithms.weight_sharing.tunas import TuNAS

    algo = TuNAS()
    algo.numerator = algo.denominator = 0.0
    logits = torch.tensor([[0.2, -0.1]] * 5, dtype=torch.float64, requires_grad=True)
    index = [0, 1, 1, 0, 1]
    m = 0.95
    # first reward: the baseline is the reward itself -> no update
    algo.reinforce_loss(logits, index, 60.0, m).backward()
    assert torch.count_nonzero(logits.grad) == 0
    logits.grad = None
    # second reward 80: b = (0.95 * 0.05 * 60 + 0.05 * 80) / (0.95 * 0.05 + 0.05)
    b = (0.95 * 0.05 * 60 + 0.05 * 80) / (0.95 * 0.05 + 0.05)
    algo.reinforce_loss(logits, index, 80.0, m).backward()
    p0 = math.exp(0.2) / (math.exp(0.2) + math.exp(-0.1))
    for row, k in enumerate(index):
        p = [p0, 1 - p0]
        for j in range(2):
            want = -(80.0 - b) * ((1.0 if j == k else 0.0) - p[j])
            assert float(logits.grad[row, j]) == pytest.approx(want, rel=1e-12)


def test_flops_polynomial_and_its_expectation():
    from natsbench.models.costs import count_flops
    from natsbench.models.sss_net import build_sss_network

    flops = SssFlops(sss.CHANNELS, 10, (3, 8, 8))
    for arch in ("8:64:16:40:24", "64:64:64:64:64", "24:8:56:8:32"):
        want = count_flops(build_sss_network(arch, 10), (1, 3, 8, 8))
        assert flops.of_widths(sss.parse(arch)) == pytest.approx(want, rel=1e-9)
    # the expectation under one-hot distributions is the network's FLOPs; under a mixture it
    # is the mean over the product distribution (enumerated for two candidates per position)
    idx = [1, 7, 0, 3, 5]
    one_hot = torch.nn.functional.one_hot(torch.tensor(idx), 8).double()
    assert float(flops.expected(one_hot)) == pytest.approx(flops.of_index(idx), rel=1e-9)
    probs = torch.zeros(5, 8, dtype=torch.float64)
    probs[:, 1], probs[:, 6] = 0.25, 0.75
    import itertools

    mean = sum(np.prod([0.25 if k == 1 else 0.75 for k in ks]) * flops.of_index(list(ks))
               for ks in itertools.product((1, 6), repeat=5))
    assert float(flops.expected(probs)) == pytest.approx(mean, rel=1e-9)


def test_tas_cost_loss_pieces():
    from search_algorithms.weight_sharing.tas import cost_loss

    e = torch.tensor(10.0, requires_grad=True)
    assert float(cost_loss(e, 12.0, 10.0, 0.1)) == pytest.approx(math.log(10.0))
    assert float(cost_loss(e, 8.0, 10.0, 0.1)) == pytest.approx(-math.log(10.0))
    assert float(cost_loss(e, 10.5, 10.0, 0.1)) == 0.0


# -- searches ------------------------------------------------------------------------------
def _search(algo, data, seed=777, **kw):
    cfg = get_config("digits", **{**TINY, **kw.pop("cfg", {})})
    engines: list = []
    rows = run_search(algo, "digits", cfg, seed, BENCH, data=data, engine_out=engines,
                      on_missing="surrogate", **kw)
    return rows, engines[0]


@pytest.mark.parametrize("algo", SSS_ALGOS)
def test_each_sss_algorithm_finishes_a_two_epoch_search(algo, tiny_data):
    rows, engine = _search(algo, tiny_data)
    assert [r["epoch"] for r in rows] == [1, 2]
    bench_archs = set(__import__("natsbench").open_bench(BENCH).arch_strs)
    for r in rows:
        assert set(row_columns("sss")) <= set(r) and r["space"] == "sss"
        widths = sss.parse(r["arch"])
        assert r["arch"] in bench_archs
        assert r["mean_width"] == pytest.approx(sum(widths) / 5)
        assert r["num_max_width"] == sum(w == 64 for w in widths)
        assert r["source"] in ("table", "surrogate") and 0 < r["reported"] <= 100
        assert r["tau"] == pytest.approx(engine.tau_at(r["epoch"] - 1))
        assert r["warmup_ratio"] == 0.0
    # derived = argmax of the logits per position
    argmax = engine.net.arch_logits.argmax(dim=-1).tolist()
    assert rows[-1]["arch"] == sss.to_str([sss.CHANNELS[k] for k in argmax])
    assert set(engine.used) <= {"train", "x-valid"} and engine.used["train"] == set(range(48))


@pytest.mark.parametrize("algo", SSS_ALGOS)
def test_sss_searches_are_seeded_and_resume(algo, tiny_data, tmp_path):
    a, _ = _search(algo, tiny_data, seed=5)
    b, _ = _search(algo, tiny_data, seed=5)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "search_time"} for r in rows]  # noqa: E731
    assert strip(a) == strip(b)
    _search(algo, tiny_data, seed=5, checkpoint_dir=tmp_path, stop_after=1)
    resumed, _ = _search(algo, tiny_data, seed=5, checkpoint_dir=tmp_path)
    assert strip(resumed) == strip(a)


def test_warmup_keeps_the_architecture_unchanged_for_its_epochs(tiny_data):
    cfg = {"epochs": 4, "warmup_ratio": 0.5}         # epochs 0 and 1 warm up
    for algo in SSS_ALGOS:
        _, init = _search(algo, tiny_data, cfg=cfg, stop_after=0)
        _, warm = _search(algo, tiny_data, cfg=cfg, stop_after=2)
        assert torch.equal(warm.net.arch_logits, init.net.arch_logits), algo
        assert warm.in_warmup(1) and not warm.in_warmup(2)
        assert warm.warmup_full_prob(0) == 1.0 and warm.warmup_full_prob(1) == 0.5
        assert warm.warmup_full_prob(2) is None
        rows, done = _search(algo, tiny_data, cfg=cfg, stop_after=3)
        assert not torch.equal(done.net.arch_logits, init.net.arch_logits), algo
        assert {r["warmup_ratio"] for r in rows} == {0.5}
    # the first warm-up epoch runs full-width paths only
    from search_algorithms.weight_sharing.size import SizeAlgorithm

    _, engine = _search("tas", tiny_data, cfg=cfg, stop_after=0)
    algo = engine.algorithm
    SizeAlgorithm.begin_epoch(algo, engine, 0)
    assert all(algo.warmup_path(engine) == [7] * 5 for _ in range(10))
    with pytest.raises(QueryError, match="tas, fbnetv2, tunas"):
        run_search("gdas", "digits", get_config("digits", warmup_ratio=0.3, **TINY), 1,
                   bundled_path(*BUNDLED_TSS))
    with pytest.raises(QueryError, match=r"\[0, 1\)"):
        run_search("tas", "digits", get_config("digits", warmup_ratio=1.0, **TINY), 1, BENCH)


def test_tas_cost_target_pulls_towards_smaller_networks(tiny_data):
    """With a target far below every network, the cost term makes the expected FLOPs fall
    faster than without it (same seed, same batches)."""
    from search_algorithms.weight_sharing.tas import TAS

    free, e_free = _search("tas", tiny_data, seed=3)
    capped, e_cap = _search("tas", tiny_data, seed=3, cfg={"flops_target": 0.01,
                                                            "flops_weight": 50.0})
    algo = e_cap.algorithm
    assert isinstance(algo, TAS) and algo.flops is not None
    exp = lambda e: float(algo.flops.expected(torch.softmax(e.net.arch_logits.detach().double(), -1)))  # noqa: E731
    assert exp(e_cap) < exp(e_free)


def test_derived_strings_build_the_networks_the_benchmark_trained():
    """The derived string means the network the benchmark trained: its parameter count."""
    import natsbench
    from natsbench.models.costs import count_params
    from natsbench.models.sss_net import build_sss_network
    from search_algorithms.weight_sharing.spaces import get_space_adapter

    bench = natsbench.open_bench(BENCH)
    costs = bench.costs("digits", "12").dropna()
    adapter = get_space_adapter("sss")
    rng = np.random.default_rng(0)
    for arch in rng.choice(costs["arch"].to_numpy(), size=8, replace=False):
        derived = [sss.CHANNELS.index(w) for w in sss.parse(arch)]
        assert adapter.to_arch(derived) == arch
        params = count_params(build_sss_network(adapter.to_arch(derived), 10))
        assert params == pytest.approx(float(costs.loc[costs["arch"] == arch, "params"].iloc[0]),
                                       abs=1e-6)


def test_space_and_algorithm_pairs_are_checked(tiny_data):
    from search_algorithms.weight_sharing.engine import algorithms_for_space

    assert algorithms_for_space("sss") == SSS_ALGOS
    assert row_columns("sss") == (*ROW_COLUMNS, "mean_width", "num_max_width")
    with pytest.raises(QueryError, match="does not search space 'sss'; algorithms for sss: "
                                         "tas, fbnetv2, tunas"):
        run_search("gdas", "digits", get_config("digits", **TINY), 1, BENCH, data=tiny_data)
    with pytest.raises(QueryError, match="does not search space 'tss'"):
        run_search("tas", "digits", get_config("digits", **TINY), 1, bundled_path(*BUNDLED_TSS))
