"""DARTS-cell supernet, strength parametrisations and derivation rules of BtNAS (issue 17)."""
from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from natsbench.errors import InvalidArchError, QueryError  # noqa: E402
from natsbench.models.darts_supernet import D2NAS_OPS, DartsSupernet  # noqa: E402
from natsbench.models.cell_net import build_extcell_network  # noqa: E402
from natsbench.spaces import extcell  # noqa: E402
from natsbench.spaces._cells import EDGES, INTERMEDIATE_NODES, OPS  # noqa: E402
from search_algorithms.weight_sharing.strengths import (  # noqa: E402
    STRENGTHS, BetaStrength, FairDartsStrength, beta_kl_uniform, make_strength, zero_one_loss)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _nparams(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# -- supernet ---------------------------------------------------------------------------------
def test_supernet_mixed_op_is_weighted_sum_of_candidates():
    torch.manual_seed(0)
    net = DartsSupernet(10, C=4, layers=3, in_channels=1)
    x = torch.randn(2, 1, 8, 8)
    cell = net.cells[0]
    s = torch.randn(2, 4, 8, 8)
    w = torch.rand(len(OPS))
    edge = cell.edges[0]
    expected = sum(w[i] * edge.candidates[op](s) for i, op in enumerate(OPS) if op != "none")
    torch.testing.assert_close(edge(s, w), expected)
    # one-hot weights on the same op everywhere = that op alone; zero weights on 'none' only
    # leave the preprocessing path, so two nets differ only in the mixing weights
    wn = torch.zeros(14, 8)
    wn[:, OPS.index("skip_connect")] = 1.0
    out = net(x, wn, wn)
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    with pytest.raises(InvalidArchError, match=r"\[14, 8\]"):
        net(x, torch.zeros(14, 5), wn)


def test_supernet_op_subset_and_pruning_count_only_live_params():
    full = DartsSupernet(10, C=4, layers=3, in_channels=1)
    small = DartsSupernet(10, C=4, layers=3, in_channels=1, ops=D2NAS_OPS)
    assert small.num_ops == 5 and _nparams(small) < _nparams(full)
    x = torch.randn(2, 1, 8, 8)
    assert small(x, torch.rand(14, 5), torch.rand(14, 5)).shape == (2, 10)
    before = _nparams(small)
    sep = sum(p.numel() for c in small.cells if not c.reduction
              for p in c.edges[3].candidates["sep_conv_3x3"].parameters())
    small.set_candidates("normal", 3, ["none", "skip_connect", "avg_pool_3x3", "dil_conv_5x5"])
    assert _nparams(small) == before - sep
    assert small.candidates("normal", 3) == ("none", "skip_connect", "avg_pool_3x3", "dil_conv_5x5")
    assert small.candidates("reduce", 3) == D2NAS_OPS
    # the pruned op's weight column is ignored
    w = torch.rand(14, 5)
    w2 = w.clone()
    w2[3, D2NAS_OPS.index("sep_conv_3x3")] = 100.0
    torch.manual_seed(1)
    small.eval()
    torch.testing.assert_close(small(x, w, w), small(x, w2, w))
    with pytest.raises(InvalidArchError, match="subset of its live ops"):
        small.set_candidates("normal", 3, ["sep_conv_3x3"])
    with pytest.raises(InvalidArchError, match="op set"):
        DartsSupernet(10, ops=["conv_9x9"])


# -- strengths --------------------------------------------------------------------------------
def test_beta_samples_in_open_interval_and_concentrations_above_one():
    g = torch.Generator().manual_seed(0)
    s = BetaStrength((2, 14, 8), g)
    with torch.no_grad():
        s.a.copy_(torch.linspace(-30, 30, s.a.numel()).reshape(s.a.shape))
        s.b.copy_(torch.linspace(30, -30, s.b.numel()).reshape(s.b.shape))
    alpha, beta = s.concentrations()
    assert bool((alpha > 1).all()) and bool((beta > 1).all())
    for _ in range(20):
        theta = s.mixing(g)
        assert bool((theta > 0).all()) and bool((theta < 1).all())
    # after optimisation steps pushing every parameter down, still > 1
    opt = torch.optim.SGD(s.parameters(), lr=100.0)
    for _ in range(5):
        opt.zero_grad()
        (s.a.sum() + s.b.sum() + s.mixing(g).sum()).backward()
        opt.step()
    alpha, beta = s.concentrations()
    assert bool((alpha > 1).all()) and bool((beta > 1).all())


def test_beta_pathwise_gradient_matches_finite_difference_of_expectation():
    # toy objective f(theta) = theta^2: E[f] = a (a + 1) / ((a + b)(a + b + 1)) in closed form
    def expectation(a: float, b: float) -> float:
        return a * (a + 1) / ((a + b) * (a + b + 1))

    n = 20000   # n independent ops with equal parameters: n samples and n gradients at once
    s = BetaStrength((1, 1, n))
    with torch.no_grad():
        s.a.fill_(0.7)
        s.b.fill_(-0.3)
    alpha, beta = (float(t.detach()[0, 0, 0]) for t in s.concentrations())
    g = torch.Generator().manual_seed(3)
    (s.mixing(g) ** 2).sum().backward()
    grads = np.stack([s.a.grad.reshape(-1).numpy(), s.b.grad.reshape(-1).numpy()], axis=1)
    # chain rule: d/da = dE/dalpha * sigmoid(a) (alpha = 1.001 + softplus(a))
    h = 1e-5
    d_alpha = (expectation(alpha + h, beta) - expectation(alpha - h, beta)) / (2 * h)
    d_beta = (expectation(alpha, beta + h) - expectation(alpha, beta - h)) / (2 * h)
    want = np.array([d_alpha / (1 + math.exp(-0.7)), d_beta / (1 + math.exp(0.3))])
    mean, se = grads.mean(axis=0), grads.std(axis=0) / math.sqrt(n)
    assert np.all(np.abs(mean - want) < 4 * se + 1e-4), (mean, want, se)
    assert abs(want[0]) > 10 * se[0]          # the check can fail: the gradient is not ~0


def test_beta_kl_equals_closed_form_and_torch():
    a = torch.tensor([1.0, 1.5, 3.0, 10.0, 1.2])
    b = torch.tensor([1.0, 2.5, 3.0, 1.1, 7.0])
    got = beta_kl_uniform(a, b)
    lnB = [math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y) for x, y in zip(a.tolist(), b.tolist())]
    psi = torch.digamma
    hand = [-lb + (x - 1) * float(psi(torch.tensor(x))) + (y - 1) * float(psi(torch.tensor(y)))
            + (2 - x - y) * float(psi(torch.tensor(x + y))) for lb, x, y in zip(lnB, a.tolist(), b.tolist())]
    torch.testing.assert_close(got, torch.tensor(hand), atol=1e-5, rtol=1e-5)
    assert float(got[0]) == pytest.approx(0.0, abs=1e-6)   # Beta(1, 1) is the prior itself
    ref = torch.distributions.kl_divergence(torch.distributions.Beta(a, b),
                                            torch.distributions.Beta(torch.ones(5), torch.ones(5)))
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
    # Monte Carlo: E_q[log q(theta)] - E_q[log 1]
    q = torch.distributions.Beta(torch.tensor(3.0), torch.tensor(1.5))
    x = q.sample(torch.Size([200_000]))
    assert float(q.log_prob(x).mean()) == pytest.approx(float(beta_kl_uniform(torch.tensor(3.0),
                                                                              torch.tensor(1.5))), abs=0.01)
    s = BetaStrength((2, 14, 8), kl_weight=1e-3)
    alpha, beta = s.concentrations()
    assert float(s.regularizer()) == pytest.approx(1e-3 * float(beta_kl_uniform(alpha, beta).sum()))


def test_fairdarts_zero_one_loss_pushes_strengths_to_zero_or_one():
    s = FairDartsStrength((1, 4, 8), torch.Generator().manual_seed(0))
    with torch.no_grad():
        s.logits.copy_(torch.linspace(-0.5, 0.5, 32).reshape(1, 4, 8))
    opt = torch.optim.Adam(s.parameters(), lr=0.05)
    start = float(zero_one_loss(torch.sigmoid(s.logits)))
    for _ in range(300):
        opt.zero_grad()
        s.regularizer().backward()
        opt.step()
    p = torch.sigmoid(s.logits).detach()
    assert float(zero_one_loss(p)) < start
    assert bool(((p < 0.05) | (p > 0.95)).all())
    # the sign of the start decides the side
    init = torch.linspace(-0.5, 0.5, 32).reshape(1, 4, 8)
    assert bool(((p > 0.5) == (init > 0)).all())


@pytest.mark.parametrize("name", list(STRENGTHS))
def test_parametrisations_shapes_and_derivation_strengths(name):
    g = torch.Generator().manual_seed(1)
    s = make_strength(name, (2, 14, 8), g)
    w = s.mixing(g)
    assert w.shape == (2, 14, 8) and w.requires_grad
    st = s.strengths()
    assert st.shape == (2, 14, 8) and np.all(st > 0)
    if name == "darts":
        np.testing.assert_allclose(st.sum(axis=-1), 1.0, rtol=1e-6)
    if name == "btnas":
        alpha, beta = (t.detach().numpy() for t in s.concentrations())
        np.testing.assert_allclose(st, alpha / (alpha + beta), rtol=1e-6)
    with pytest.raises(QueryError, match="valid: btnas"):
        make_strength("pr-darts", (2, 14, 8))


def test_beta_sampling_is_seeded_by_the_generator_only():
    s = BetaStrength((2, 14, 8), torch.Generator().manual_seed(0))
    a = s.mixing(torch.Generator().manual_seed(5))
    torch.manual_seed(123)   # the global RNG does not matter
    b = s.mixing(torch.Generator().manual_seed(5))
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, s.mixing(torch.Generator().manual_seed(6)))


# -- derivation ------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [10, 12, 14, 16])
def test_topk_yields_exactly_k_ops_over_both_cells(k):
    rng = np.random.default_rng(k)
    s = rng.random((2, 14, 8))
    s[:, :, 0] = 10.0        # zero ops are excluded from the ranking however strong
    arch = extcell.derive(s, k=k)
    g = extcell.parse(arch, k=k)
    assert len(g.normal) + len(g.reduce) == k
    slots = extcell.slots_of(g)
    flat = s[:, :, 1:].reshape(-1)
    assert set(slots.tolist()) == set(np.argsort(-flat)[:k].tolist())


@pytest.mark.parametrize("seed", range(5))
def test_actall_keeps_every_intermediate_node(seed):
    rng = np.random.default_rng(seed)
    s = rng.random((2, 14, 8)) * 0.01 + 1e-4
    # all strength concentrated on node 2 of each cell: plain top-k leaves nodes 3..5 unconnected
    for e, (dst, _) in enumerate(EDGES):
        if dst == 2:
            s[:, e, 1:] += 1.0
    plain = extcell.parse(extcell.derive(s, k=10))
    assert extcell.unconnected_nodes(plain)["normal"]
    act = extcell.parse(extcell.derive(s, k=10, actall=True))
    assert extcell.unconnected_nodes(act) == {"normal": (), "reduce": ()}
    for cell in (act.normal, act.reduce):
        assert {dst for _, _, dst in cell} == set(INTERMEDIATE_NODES)
    assert len(act.normal) + len(act.reduce) == 10


def test_darts_rule_gives_a_darts_cell_pair_and_op_subsets():
    from natsbench.spaces import darts

    rng = np.random.default_rng(0)
    s = rng.random((2, 14, 5))
    full, available = extcell.expand_strengths(s, D2NAS_OPS)
    arch = extcell.derive(full, rule="darts", available=available)
    g = darts.parse(arch)   # a valid DARTS genotype
    assert {op for op, _, _ in g.normal + g.reduce} <= set(D2NAS_OPS)
    top = extcell.parse(extcell.derive(full, k=12, available=available))
    assert {op for op, _, _ in top.normal + top.reduce} <= set(D2NAS_OPS) - {"none"}
    with pytest.raises(InvalidArchError, match="exceeds"):
        extcell.derive(full, k=120, available=available)
    with pytest.raises(InvalidArchError, match="valid: topk, darts"):
        extcell.derive(full, rule="argmax")


def test_derived_extcell_builds_a_network():
    s = np.random.default_rng(2).random((2, 14, 8))
    arch = extcell.derive(s, k=10, actall=True)
    net = build_extcell_network(arch, num_classes=10, C=4, layers=3, in_channels=1)
    assert net(torch.randn(2, 1, 8, 8)).shape == (2, 10)
