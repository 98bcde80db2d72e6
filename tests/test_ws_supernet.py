"""The tss supernet's forward modes: which parameters each mode's gradients reach; DARTS-V2's
hypergradient against finite differences."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from natsbench.errors import InvalidArchError  # noqa: E402
from natsbench.models.ops import Zero  # noqa: E402
from natsbench.models.tss_supernet import SearchCell, TssSupernet, gumbel_hard  # noqa: E402
from natsbench.spaces import tss  # noqa: E402

NONE, SKIP, C1, C3, POOL = range(5)


def _net(dtype=torch.float32) -> TssSupernet:
    torch.manual_seed(0)
    return TssSupernet(num_classes=3, C=4, N=1).to(dtype)


def _x(n: int = 6, dtype=torch.float32, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, 3, 8, 8, generator=g, dtype=dtype),
            torch.randint(0, 3, (n,), generator=g))


def _op_has_grad(net: TssSupernet) -> dict[tuple[int, int, int], bool]:
    """(cell, edge, op) -> whether any parameter of that candidate op got a non-zero gradient
    (ops without parameters are left out)."""
    out = {}
    cells = [c for c in net.cells if isinstance(c, SearchCell)]
    for ci, cell in enumerate(cells):
        for e, ops in enumerate(cell.edges):
            for k, op in enumerate(ops):
                params = list(op.parameters())
                if params:
                    out[(ci, e, k)] = any(p.grad is not None and bool(p.grad.abs().sum() > 0)
                                          for p in params)
    return out


def test_bn_layout_matches_the_official_supernet():
    net = _net()
    for name, m in net.named_modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            in_ops = ".edges." in name or name.startswith("lastact")
            assert m.affine is (not in_ops), name
            assert (m.track_running_stats is not in_ops), name
    assert net.arch_logits.shape == (6, 5)
    assert not any(p is net.arch_logits for p in net.weights())


def test_soft_mode_mixes_every_op():
    net = _net()
    x, y = _x()
    torch.nn.functional.cross_entropy(net(x, "soft"), y).backward()
    assert bool((net.arch_logits.grad != 0).all())
    assert all(_op_has_grad(net).values())


def test_hard_mode_runs_one_op_per_edge_and_every_logit_gets_a_gradient():
    net = _net()
    x, y = _x()
    # a `none` edge whose source node still reaches the output (a `none` into the last node
    # from node 2 would cut node 2 off, and its edges would rightly get no gradient)
    index = torch.tensor([C3, C1, SKIP, C3, NONE, POOL])
    weights, _ = gumbel_hard(net.arch_logits, 1.0, torch.Generator().manual_seed(0))
    # force the sample (the straight-through weights keep their gradient path)
    one_hot = torch.nn.functional.one_hot(index, 5).float()
    weights = one_hot - weights.detach() + weights
    torch.nn.functional.cross_entropy(net(x, "hard", weights=weights, index=index), y).backward()
    assert bool((net.arch_logits.grad != 0).all())
    grads = _op_has_grad(net)
    for (cell, e, k), has in grads.items():
        assert has is (k == int(index[e])), (cell, e, k)


def test_gumbel_hard_is_a_straight_through_one_hot():
    logits = torch.randn(6, 5, requires_grad=True)
    hard, index = gumbel_hard(logits, 0.5, torch.Generator().manual_seed(3))
    assert torch.equal(hard.detach(), torch.nn.functional.one_hot(index, 5).float())
    (hard * torch.arange(5.0)).sum().backward()
    assert bool((logits.grad != 0).any())
    again, index2 = gumbel_hard(logits, 0.5, torch.Generator().manual_seed(3))
    assert torch.equal(index, index2)


def test_path_mode_touches_no_arch_parameter_and_only_the_path():
    net = _net()
    x, y = _x()
    paths = [[C3, NONE, C1, POOL, SKIP, C3], [C1, C1, C1, C1, C1, C1], [C3, C3, C3, C3, C3, C3]]
    torch.nn.functional.cross_entropy(net(x, "path", index=paths), y).backward()
    assert net.arch_logits.grad is None
    for (cell, e, k), has in _op_has_grad(net).items():
        assert has is (k == paths[cell][e]), (cell, e, k)


def test_path_mode_equals_the_standalone_network_of_the_arch():
    """A single path is the tss network of that arch with the supernet's weights."""
    net = _net().eval()
    x, _ = _x()
    index = [C3, SKIP, C1, POOL, NONE, C3]
    out = net(x, "path", index=index)
    # the same function, recomputed edge by edge from the candidate modules
    cells = [c for c in net.cells if isinstance(c, SearchCell)]
    h = net.stem(x)
    s = 0
    for cell in net.cells:
        if isinstance(cell, SearchCell):
            nodes = [h]
            for j in range(1, 4):
                terms = [cell.edges[e][index[e]](nodes[f]) for e, (t, f) in enumerate(tss.EDGES)
                         if t == j and not isinstance(cell.edges[e][index[e]], Zero)]
                nodes.append(sum(terms) if terms else torch.zeros_like(nodes[0][:, :cell.out_dim]))
            h = nodes[-1]
            s += 1
        else:
            h = cell(h)
    ref = net.classifier(torch.flatten(net.global_pooling(net.lastact(h)), 1))
    assert s == len(cells)
    torch.testing.assert_close(out, ref)


def test_bad_mode_and_index_name_the_valid_values():
    net = _net()
    x, _ = _x()
    with pytest.raises(InvalidArchError, match="soft, hard, path"):
        net(x, "joint")
    with pytest.raises(InvalidArchError, match=r"\[6\] or \[3, 6\]"):
        net(x, "path", index=[0, 1, 2])


def test_channels_last_gives_the_same_logits():
    net = _net().eval()
    x, _ = _x()
    ref = net(x, "soft")
    net_cl = net.to(memory_format=torch.channels_last)
    out = net_cl(x.contiguous(memory_format=torch.channels_last), "soft")
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)


def _smooth(net: TssSupernet) -> TssSupernet:
    """``net`` with every ReLU replaced by a softplus.  The unrolled objective contains the
    training-loss gradient, which jumps wherever a ReLU changes sign: with ReLUs a finite
    difference on the architecture logits measures those jumps, not the derivative."""
    for module in list(net.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, torch.nn.ReLU):
                setattr(module, name, torch.nn.Softplus(beta=5.0))
    return net


class _Stub:
    """What DartsV2.hypergradient reads from an engine."""

    def __init__(self, net, lr, config):
        self.net, self.lr, self.config = net, lr, config
        self.w_optimizer = torch.optim.SGD(net.weights(), lr=lr, momentum=config.momentum,
                                           nesterov=config.nesterov, weight_decay=config.weight_decay)

    def loss(self, logits, labels):
        return torch.nn.functional.cross_entropy(logits, labels)


@pytest.mark.parametrize("with_momentum", [False, True])
def test_darts_v2_hypergradient_equals_finite_differences(with_momentum):
    from search_algorithms.weight_sharing.config import get_config
    from search_algorithms.weight_sharing.darts import DartsV2

    net = _smooth(_net(torch.float64))
    with torch.no_grad():
        net.arch_logits.normal_(0, 0.5, generator=torch.Generator().manual_seed(4))
    cfg = get_config("nats")     # the official r = 0.01 / ||v||
    stub = _Stub(net, lr=0.05, config=cfg)
    x, y = _x(8, torch.float64, seed=1)
    xv, yv = _x(8, torch.float64, seed=2)
    if with_momentum:       # one real step so the virtual step has a momentum buffer
        stub.loss(net(x, "soft"), y).backward()
        stub.w_optimizer.step()
        net.zero_grad(set_to_none=True)
    params = net.weights()
    bufs = [stub.w_optimizer.state.get(p, {}).get("momentum_buffer") for p in params]

    def f(alpha):
        """L_val(w', alpha) with w' one virtual SGD step of L_train(w, alpha)."""
        with torch.no_grad():
            net.arch_logits.copy_(alpha)
        grads = torch.autograd.grad(stub.loss(net(x, "soft"), y), params)
        saved = [p.detach().clone() for p in params]
        with torch.no_grad():
            for p, g, b in zip(params, grads, bufs):
                step = g + cfg.weight_decay * p
                if b is not None:
                    step = step + cfg.momentum * b
                p.sub_(stub.lr * step)
            value = float(stub.loss(net(xv, "soft"), yv))
            for p, s in zip(params, saved):
                p.copy_(s)
        return value

    alpha0 = net.arch_logits.detach().clone()
    numeric = torch.zeros_like(alpha0)
    h = 1e-6
    for i in range(6):
        for k in range(5):
            d = torch.zeros_like(alpha0)
            d[i, k] = h
            numeric[i, k] = (f(alpha0 + d) - f(alpha0 - d)) / (2 * h)
    with torch.no_grad():
        net.arch_logits.copy_(alpha0)
    weights_before = [p.detach().clone() for p in params]
    hyper, = DartsV2().hypergradient(stub, x, y, xv, yv)     # one per arch parameter
    for p, w in zip(params, weights_before):     # the Hessian probe restores the weights
        torch.testing.assert_close(p.detach(), w, rtol=0, atol=1e-12)
    assert float(numeric.abs().max()) > 1e-4     # a real signal, not zeros
    # the official radius: the finite-difference Hessian-vector product is O(r^2) off
    scale = float(numeric.abs().max())
    torch.testing.assert_close(hyper, numeric, rtol=0, atol=2e-3 * scale)
    # a small radius: the same algebra, exact up to rounding
    stub.config = cfg.replace(unroll_eps=1e-5)
    tight, = DartsV2().hypergradient(stub, x, y, xv, yv)
    torch.testing.assert_close(tight, numeric, rtol=0, atol=1e-5 * scale)
    # and it differs from the first-order gradient (the second-order term matters)
    first = torch.autograd.grad(stub.loss(net(xv, "soft"), yv), net.arch_logits)[0]
    assert not torch.allclose(first, numeric, rtol=1e-2, atol=1e-4)
