"""The task registry, each task's on-disk format (small files written here in the exact format),
losses/metrics against hand-computed values, and one training step per task config."""
from __future__ import annotations

import gzip
import pickle

import numpy as np
import pytest

from natsbench.errors import ConfigError, DatasetError, NatsBenchError
from natsbench.tasks import NB360_TASKS, OFFLINE_TASKS, TASKS, get_task
from natsbench.tasks.configs import DILATIONS_1D, DILATIONS_2D, KERNELS_1D, KERNELS_2D
from natsbench.tasks.loaders import load_task, read_mat

torch = pytest.importorskip("torch")


def test_registry_matches_the_papers_tables():
    assert list(NB360_TASKS) == ["cifar100", "spherical", "ninapro", "fsd50k", "darcyflow",
                                 "psicov", "cosmic", "ecg", "satellite", "deepsea"]
    # D2NAS Table 4 (batch, input size, loss) and Table 1 (metric)
    table4 = {"cifar100": (64, (32, 32), "cross_entropy", "error_pct"),
              "spherical": (64, (60, 60), "cross_entropy", "error_pct"),
              "ninapro": (128, (16, 52), "focal", "error_pct"),
              "fsd50k": (128, (96, 101), "bce_logits", "1-mAP"),
              "darcyflow": (10, (85, 85), "relative_l2", "relative_l2"),
              "psicov": (8, (128, 128), "mse", "MAE8"),
              "cosmic": (4, (128, 128), "bce_logits", "1-AUROC"),
              "ecg": (1024, (1000,), "cross_entropy", "1-F1"),
              "satellite": (256, (46,), "cross_entropy", "error_pct"),
              "deepsea": (256, (1000,), "bce_logits", "1-AUROC")}
    for name, (batch, size, loss, metric) in table4.items():
        t = NB360_TASKS[name]
        assert (t.batch_size, t.input_shape[1:], t.loss, t.metric) == (batch, size, loss, metric)
        if t.dims == 2:
            assert (t.kernel_sizes, t.dilations) == ((3, 5, 7, 9), (1, 3, 7, 15))
            assert (t.search_backbone, t.retrain_backbone) == ("wrn16-1", "wrn16-4")
        else:
            assert (t.kernel_sizes, t.dilations) == ((3, 7, 11, 15, 19), (1, 3, 7, 15))
    assert {t.name for t in TASKS.values() if t.dense} == {"darcyflow", "psicov", "cosmic"}
    assert get_task("Darcy-Flow") is NB360_TASKS["darcyflow"]
    with pytest.raises(ConfigError, match="nosuch.*cifar100"):
        get_task("nosuch")


# -- hand-computed losses and metrics ---------------------------------------------------------

def test_metrics_hand_computed():
    from natsbench.tasks.objectives import compute_metric

    logits = np.array([[2.0, 1.0], [0.0, 3.0], [5.0, 1.0], [0.0, 1.0]])
    assert compute_metric("error_pct", logits, np.array([0, 1, 1, 0])) == pytest.approx(50.0)
    # F1: class 0 predicted {0, 2}, true {0, 3}: P=R=1/2; class 1 the same -> macro 0.5
    assert compute_metric("1-F1", logits, np.array([0, 1, 1, 0])) == pytest.approx(0.5)
    out, y = np.array([[3.0, 4.0]]), np.array([[0.0, 4.0]])
    assert compute_metric("relative_l2", out, y) == pytest.approx(3.0 / 4.0)
    # AUROC: scores .1 .4 .35 .8 for labels 0 0 1 1 -> 3 of 4 pairs ranked right
    s, lab = np.array([[0.1], [0.4], [0.35], [0.8]]), np.array([[0], [0], [1], [1]])
    assert compute_metric("1-AUROC", s, lab) == pytest.approx(0.25)
    # AP: ranking 0.8(+) 0.4(-) 0.35(+) -> (1 + 2/3) / 2
    assert compute_metric("1-mAP", s, lab) == pytest.approx(1 - (1 + 2 / 3) / 2)
    # a dense mask is flattened: same numbers for a [1, 1, 2, 2] map
    assert compute_metric("1-AUROC", s.reshape(1, 1, 2, 2), lab.reshape(1, 1, 2, 2)) \
        == pytest.approx(0.25)


def test_mae8_follows_nas_bench_360_pair_filter_and_protein_average():
    """NAS-Bench-360's calculate_mae (mae_lr_d8): pairs j - i >= 24 with true distance <= 8 A,
    prediction averaged over both triangles, mean per protein, then mean over proteins."""
    from natsbench.tasks.objectives import compute_metric

    size = 26
    t = np.full((3, 1, size, size), 20.0)       # far pairs never count
    p = np.zeros_like(t)
    # protein 0: (0, 24) true 5, predicted 6 / 8 in the two triangles -> 7, error 2
    t[0, 0, 0, 24], p[0, 0, 0, 24], p[0, 0, 24, 0] = 5.0, 6.0, 8.0
    # (0, 25) true 8 (<= 8 counts), predicted 12 / 10 -> 11, error 3
    t[0, 0, 0, 25], p[0, 0, 0, 25], p[0, 0, 25, 0] = 8.0, 12.0, 10.0
    t[0, 0, 1, 25] = 9.0                         # > 8 A: dropped
    t[0, 0, 0, 10] = 3.0                         # separation 10 < 24: dropped
    t[0, 0, 25, 0] = 4.0                         # lower triangle: dropped
    # protein 1: (1, 25) true 7.5, predicted 0 -> error 7.5; a NaN distance is dropped
    t[1, 0, 1, 25] = 7.5
    t[1, 0, 0, 24] = np.nan
    # protein 2: no counted pair -> skipped, not a zero
    per_protein = [(2.0 + 3.0) / 2, 7.5]
    assert compute_metric("MAE8", p, t) == pytest.approx(np.mean(per_protein))   # 5.0
    assert compute_metric("MAE8", p[:, 0], t[:, 0]) == pytest.approx(5.0)
    assert np.isnan(compute_metric("MAE8", p[2:], t[2:]))
    with pytest.raises(NatsBenchError, match="square distance maps"):
        compute_metric("MAE8", np.array([1.0, 5.0]), np.array([2.0, 9.0]))


def test_cosmic_auroc_honours_ignore_mask():
    """deepCR / DASH: ignored pixels get probability 0 and label 0 (never a positive)."""
    from natsbench.tasks.objectives import compute_metric

    # pixels A..F: labels 0 1 1 0 1 0, logits 3 1 2 -2 -3 .5; A and E flagged ignore
    logits = np.array([3.0, 1.0, 2.0, -2.0, -3.0, 0.5]).reshape(1, 1, 2, 3)
    labels = np.array([0, 1, 1, 0, 1, 0], dtype=float).reshape(1, 1, 2, 3)
    ignore = np.array([1, 0, 0, 0, 1, 0], dtype=float).reshape(1, 1, 2, 3)
    # no mask: positives B C E vs negatives A D F: 2 + 2 + 0 of 9 pairs right
    assert compute_metric("1-AUROC", logits, labels) == pytest.approx(5 / 9)
    # mask: positives B (.73) C (.88) above negatives A (0) E (0) D (.12) F (.62)
    assert compute_metric("1-AUROC", logits, labels, ignore=ignore) == pytest.approx(0.0)
    # an ignored pixel is a correctly ranked negative, not dropped: positive B (logit -1)
    # under negative D (logit 0) but above ignored A -> AUROC 1/2 (dropping A would give 0)
    three = (np.array([5.0, -1.0, 0.0]).reshape(1, 1, 1, 3),
             np.array([1.0, 1.0, 0.0]).reshape(1, 1, 1, 3))
    assert compute_metric("1-AUROC", *three, ignore=np.array([1.0, 0, 0]).reshape(1, 1, 1, 3)) \
        == pytest.approx(0.5)
    with pytest.raises(NatsBenchError, match="ignore mask"):
        compute_metric("MAE8", logits, labels, ignore=ignore)


def test_losses_hand_computed():
    from natsbench.tasks.objectives import focal_loss, make_loss, relative_l2

    logits, y = torch.tensor([[0.0, 0.0]]), torch.tensor([0])
    # p_t = 1/2: (1 - 1/2)^2 * log 2
    assert focal_loss(logits, y).item() == pytest.approx(0.25 * np.log(2))
    assert relative_l2(torch.tensor([[3.0, 4.0]]), torch.tensor([[0.0, 4.0]])).item() \
        == pytest.approx(0.75)
    bce = make_loss(NB360_TASKS["deepsea"])   # pos_weight 4: -4 log sigmoid(0) for a positive
    assert bce(torch.zeros(1, 36), torch.ones(1, 36)).item() == pytest.approx(4 * np.log(2))


# -- one training step of every task config on data of its exact shape ------------------------

def _fake_targets(task, n: int, shape: tuple[int, ...]):
    g = torch.Generator().manual_seed(0)
    if task.output == "classes":
        return torch.randint(0, task.num_outputs, (n,), generator=g)
    if task.output == "multilabel":
        return (torch.rand(n, task.num_outputs, generator=g) < 0.3).float()
    if task.metric == "1-AUROC":
        return (torch.rand((n, task.num_outputs) + shape, generator=g) < 0.3).float()
    return torch.rand((n, task.num_outputs) + shape, generator=g) * 10 + 0.5


def _one_step(name: str, supernet: bool, stage: str = "search") -> None:
    from natsbench.models.wrn import replace_convs_with_aggregated
    from natsbench.tasks.networks import build_backbone
    from natsbench.tasks.objectives import compute_metric, make_loss

    task = TASKS[name]
    torch.manual_seed(0)
    net = build_backbone(task, stage)
    if supernet:  # the DASH supernet of the task's own K x D
        replace_convs_with_aggregated(net, task.kernel_sizes, task.dilations)
    x = torch.randn((2,) + task.input_shape)
    y = _fake_targets(task, 2, task.input_shape[1:])
    out = net(x)
    expected = (2, task.num_outputs) + (task.input_shape[1:] if task.dense else ())
    assert tuple(out.shape) == expected
    loss = make_loss(task)(out, y)
    before = [p.detach().clone() for p in net.parameters()]
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    loss.backward()
    opt.step()
    assert np.isfinite(loss.item())
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters()))
    value = compute_metric(task.metric, out.detach().numpy(), y.numpy())
    assert np.isfinite(value) or task.metric in ("1-AUROC", "1-mAP", "MAE8")


@pytest.mark.parametrize("name", list(TASKS))
def test_every_task_trains_one_step(name):
    """The search backbone, at the task's exact input shape, with its loss and metric."""
    _one_step(name, supernet=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TASKS))
def test_every_task_supernet_trains_one_step(name):
    """The search supernet over the task's own K x D, and the retraining backbone (dense
    128x128 maps: tens of seconds)."""
    _one_step(name, supernet=True)
    _one_step(name, supernet=False, stage="retrain")


# -- on-disk formats --------------------------------------------------------------------------

def _save_obj_npy(path, obj):
    arr = np.empty((), dtype=object)
    arr[()] = obj
    np.save(path, arr, allow_pickle=True)


def test_satellite_npy_dicts(tmp_path):
    rng = np.random.default_rng(0)
    for part, n in (("train", 40), ("test", 10)):
        _save_obj_npy(tmp_path / f"satellite_{part}.npy",
                      {"data": rng.standard_normal((n, 46)), "label": rng.integers(1, 25, n)})
    data = load_task("satellite", tmp_path)
    assert data.train.x.shape[1:] == (1, 46) and data.test.x.shape == (10, 1, 46)
    assert data.train.y.min() >= 0 and data.train.y.max() <= 23
    assert len(data.train) + len(data.valid) == 40


def test_deepsea_npz(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {}
    for part, n in (("train", 6), ("val", 3), ("test", 4)):
        arrays[f"x_{part}"] = rng.integers(0, 2, (n, 1000, 4)).astype(np.uint8)
        arrays[f"y_{part}"] = rng.integers(0, 2, (n, 36)).astype(np.uint8)
    np.savez(tmp_path / "deepsea_filtered.npz", **arrays)
    data = load_task("deepsea", tmp_path)
    assert data.train.x.shape == (6, 4, 1000) and data.valid.y.shape == (3, 36)
    np.testing.assert_array_equal(data.test.x, arrays["x_test"].transpose(0, 2, 1))


def test_ninapro_npy(tmp_path):
    (tmp_path / "ninaPro").mkdir()
    rng = np.random.default_rng(0)
    for part, n in (("train", 5), ("val", 2), ("test", 3)):
        np.save(tmp_path / f"ninaPro/ninapro_{part}.npy", rng.standard_normal((n, 52, 16)))
        np.save(tmp_path / f"ninaPro/label_{part}.npy", rng.integers(0, 18, n))
    data = load_task("ninapro", tmp_path)
    assert data.train.x.shape == (5, 1, 16, 52) and len(data.valid) == 2


def test_spherical_gzip_pickle(tmp_path):
    rng = np.random.default_rng(0)
    content = {p: {"images": rng.standard_normal((n, 3, 60, 60)).astype(np.float32),
                   "labels": rng.integers(0, 100, n)} for p, n in (("train", 20), ("test", 4))}
    with gzip.open(tmp_path / "s2_cifar100.gz", "wb") as f:
        pickle.dump(content, f)
    data = load_task("spherical", tmp_path)
    assert data.test.x.shape == (4, 3, 60, 60) and len(data.train) == 18


def test_ecg_pickle_windows(tmp_path):
    rng = np.random.default_rng(0)
    recs = [rng.standard_normal(2500) * 3 + 1 for _ in range(20)]
    labels = np.array(list("NAO~" * 5))
    with open(tmp_path / "challenge2017.pkl", "wb") as f:
        pickle.dump({"data": recs, "label": labels}, f)
    data = load_task("ecg", tmp_path)
    # 2500 samples, window 1000, stride 500 -> 4 windows per recording; 16 / 2 / 2 recordings
    assert (len(data.train), len(data.valid), len(data.test)) == (64, 8, 8)
    assert data.train.x.shape[1:] == (1, 1000)
    assert abs(float(data.train.x.mean())) < 0.1      # standardised per recording


def _darcy_fields(n: int, r: int = 21):
    rng = np.random.default_rng(n)
    return {"coeff": rng.uniform(3, 12, (n, r, r)), "sol": rng.uniform(0, 1, (n, r, r))}


@pytest.mark.parametrize("version", ["v5", "v7.3"])
def test_darcy_mat(tmp_path, version):
    fields = [_darcy_fields(8), _darcy_fields(3)]
    names = ["piececonst_r421_N1024_smooth1.mat", "piececonst_r421_N1024_smooth2.mat"]
    for name, f in zip(names, fields):
        if version == "v5":
            from scipy.io import savemat

            savemat(tmp_path / name, f)
        else:  # MATLAB v7.3: HDF5 with a 512-byte user block, arrays stored column-major
            import h5py

            with h5py.File(tmp_path / name, "w", userblock_size=512) as h:
                for key, value in f.items():
                    h[key] = value.T
            with open(tmp_path / name, "r+b") as fh:
                fh.write(b"MATLAB 7.3 MAT-file".ljust(128, b" "))
    read = read_mat(tmp_path / names[0], ("coeff", "sol"))
    np.testing.assert_allclose(read["sol"], fields[0]["sol"])
    data = load_task("darcyflow", tmp_path)
    assert data.train.x.shape[1:] == (3, 5, 5)            # 21 -> every 5th point -> 5
    np.testing.assert_allclose(data.test.y[:, 0], fields[1]["sol"][:, ::5, ::5], rtol=1e-6)
    assert len(data.train) + len(data.valid) == 8


def test_cosmic_path_lists(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "cosmic" / "imgs").mkdir(parents=True)
    for part, n in (("train", 12), ("test", 2)):
        paths = []
        for i in range(n):
            rel = f"cosmic/imgs/{part}_{i}.npy"
            np.save(tmp_path / rel, rng.standard_normal((3, 8, 8)).astype(np.float32))
            paths.append(rel)
        np.save(tmp_path / f"cosmic/{part}_dirs.npy", np.array(paths, dtype=object),
                allow_pickle=True)
    data = load_task("cosmic", tmp_path)
    assert data.test.x.shape == (2, 1, 8, 8) and data.test.y.shape == (2, 1, 8, 8)
    # the ignore plane (channel 2 of each file) reaches every set, in the examples' order
    last = np.load(tmp_path / "cosmic/imgs/test_1.npy")
    np.testing.assert_array_equal(data.test.ignore[1, 0], last[2])
    np.testing.assert_array_equal(data.test.y[1, 0], last[1])
    assert data.train.ignore.shape == data.train.y.shape
    assert data.valid.ignore.shape == data.valid.y.shape


def test_prepared_npz_tasks(tmp_path):
    (tmp_path / "fsd50k").mkdir()
    (tmp_path / "protein").mkdir()
    rng = np.random.default_rng(0)
    for part in ("train", "val", "test"):
        np.savez(tmp_path / f"fsd50k/fsd50k_{part}.npz", x=rng.standard_normal((3, 96, 101)),
                 y=rng.integers(0, 2, (3, 200)))
    for part, n in (("train", 10), ("test", 2)):
        np.savez(tmp_path / f"protein/psicov_{part}.npz", x=rng.standard_normal((n, 57, 8, 8)),
                 y=rng.uniform(0, 20, (n, 1, 8, 8)))
    assert load_task("fsd50k", tmp_path).train.x.shape == (3, 1, 96, 101)
    assert load_task("psicov", tmp_path).test.y.shape == (2, 1, 8, 8)


def test_a_feature_cache_with_prepared_fsd50k_arrays_is_reported_unused(tmp_path, caplog):
    """The prepared FSD50K arrays are features already: a feature cache folder given for them
    is not used, and a warning says so (none for the default or for 'off')."""
    (tmp_path / "fsd50k").mkdir()
    rng = np.random.default_rng(0)
    for part in ("train", "val", "test"):
        np.savez(tmp_path / f"fsd50k/fsd50k_{part}.npz", x=rng.standard_normal((3, 96, 101)),
                 y=rng.integers(0, 2, (3, 200)))
    with caplog.at_level("WARNING", logger="natsbench.tasks.loaders"):
        for quiet in (None, False):
            load_task("fsd50k", tmp_path, feature_cache=quiet)
        assert not caplog.records
        data = load_task("fsd50k", tmp_path, feature_cache=tmp_path / "features")
    (record,) = caplog.records
    message = record.getMessage()
    assert f"feature_cache={tmp_path / 'features'} is not used" in message
    assert "fsd50k/fsd50k_train.npz" in message
    assert not (tmp_path / "features").exists() and data.train.x.shape == (3, 1, 96, 101)


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_missing_and_corrupt_files_are_named(tmp_path):
    with pytest.raises(DatasetError, match="satellite_train.npy.*NAS-Bench-360"):
        load_task("satellite", tmp_path)
    with pytest.raises(DatasetError, match="--data-root"):
        load_task("deepsea")
    (tmp_path / "deepsea_filtered.npz").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="deepsea_filtered.npz"):
        load_task("deepsea", tmp_path)
    (tmp_path / "piececonst_r421_N1024_smooth1.mat").write_bytes(b"\0" * 600)
    (tmp_path / "piececonst_r421_N1024_smooth2.mat").write_bytes(b"\0" * 600)
    with pytest.raises(DatasetError, match="smooth1.mat"):
        load_task("darcyflow", tmp_path)
    # a pickle that would run code is refused, naming the file and the global
    with open(tmp_path / "challenge2017.pkl", "wb") as f:
        pickle.dump({"data": [_Evil()], "label": ["N"]}, f)
    with pytest.raises(DatasetError, match=r"challenge2017.pkl.*builtins\.print"):
        load_task("ecg", tmp_path)
    _save_obj_npy(tmp_path / "satellite_train.npy", {"data": _Evil(), "label": [1]})
    with pytest.raises(NatsBenchError, match="satellite_train.npy"):
        load_task("satellite", tmp_path)
    # a truncated npy
    np.save(tmp_path / "satellite_test.npy", np.zeros((100, 46)))
    raw = (tmp_path / "satellite_test.npy").read_bytes()
    (tmp_path / "satellite_test.npy").write_bytes(raw[:200])
    _save_obj_npy(tmp_path / "satellite_train.npy", {"data": np.zeros((4, 46)), "label": np.ones(4)})
    with pytest.raises(DatasetError, match="satellite_test.npy"):
        load_task("satellite", tmp_path)


# -- offline tasks ----------------------------------------------------------------------------

def test_pulse_tasks_have_the_construction():
    from natsbench.tasks.offline import PULSE_GAPS, make_pulses

    rng = np.random.default_rng(0)
    s = make_pulses(200, (64,), 10, rng, noise=0.0)
    big = s.x[:, 0] != 0
    pos = [np.flatnonzero(row) for row in big]
    assert all(len(p) == 2 and p[1] - p[0] == 10 for p in pos)
    same = [np.sign(s.x[i, 0, p[0]]) == np.sign(s.x[i, 0, p[1]]) for i, p in enumerate(pos)]
    np.testing.assert_array_equal(np.array(same, dtype=np.int64), s.y)
    assert 0.35 < s.y.mean() < 0.65
    a, b = load_task("long1d"), load_task("long1d")
    np.testing.assert_array_equal(a.train.x, b.train.x)
    assert not np.array_equal(load_task("long1d", seed=1).train.x, a.train.x)
    assert PULSE_GAPS["long1d"] > PULSE_GAPS["local1d"]
    digits = load_task("digits")
    assert digits.train.x.shape[1:] == (1, 16, 16) and digits.sizes() == \
        {"train": 1297, "valid": 250, "test": 250}
    assert set(OFFLINE_TASKS) == {"digits", "long1d", "local1d", "long2d", "local2d"}


# -- PSICOV in its published PDNet layout (DASH's load_psicov / get_feature / get_map) ---------

def _psicov_protein(root, folder, pid, n, rng, dist=None):
    """Write ``<folder>/features/<pid>.pkl`` and ``<folder>/distance/<pid>-cb.npy``."""
    feats = {"seq": "A" * n, "ss": rng.random((3, n)), "pssm": rng.random((n, 22)),
             "sa": rng.random(n), "entropy": rng.random(n), "ccmpred": rng.random((n, n)),
             "freecon": rng.random((n, n)), "potential": rng.random((n, n))}
    for sub in ("features", "distance"):
        (root / "protein" / folder / sub).mkdir(parents=True, exist_ok=True)
    with open(root / "protein" / folder / "features" / f"{pid}.pkl", "wb") as f:
        pickle.dump(feats, f, protocol=2)
    cb = rng.uniform(4.0, 30.0, (n, n)) if dist is None else dist
    triple = np.empty(3, dtype=object)
    triple[0], triple[1], triple[2] = np.int64(n), "A" * n, cb
    np.save(root / "protein" / folder / "distance" / f"{pid}-cb.npy", triple, allow_pickle=True)
    return feats, cb


def test_psicov_published_layout(tmp_path):
    rng = np.random.default_rng(0)
    dist = np.array([[0.0, 5.0, 20.0], [5.0, 0.5, 7.0], [20.0, 7.0, 0.0]])
    f_a, _ = _psicov_protein(tmp_path, "deepcov", "aaa", 3, rng, dist.copy())
    f_b, _ = _psicov_protein(tmp_path, "deepcov", "bbb", 125, rng)  # 135 padded > 128: cropped
    (tmp_path / "protein" / "deepcov.lst").write_text("aaa 3\nbbb 125\n")
    f_t, _ = _psicov_protein(tmp_path, "psicov", "ttt", 3, rng, dist.copy())
    _psicov_protein(tmp_path, "psicov", "uuu", 6, rng)
    (tmp_path / "protein" / "psicov.lst").write_text("ttt\nuuu\n")
    data = load_task("psicov", tmp_path, valid_fraction=0.5)
    tr = np.concatenate([data.train.x, data.valid.x])
    assert tr.shape[1:] == (57, 128, 128) and data.test.x.shape == (2, 57, 16, 16)
    # test protein ttt at offset 5: hand-built channels (v[j] then v[i]) and the cleaned map
    x, y = data.test.x[0], data.test.y[0, 0]
    i, j = 0, 2
    assert x[0, 5 + i, 5 + j] == np.float32(f_t["ss"][0][j])
    assert x[1, 5 + i, 5 + j] == np.float32(f_t["ss"][0][i])
    assert x[6, 5 + i, 5 + j] == np.float32(f_t["pssm"][j, 0])
    assert x[49, 5 + i, 5 + j] == np.float32(f_t["pssm"][i, 21])
    assert x[50, 5 + i, 5 + j] == np.float32(f_t["sa"][j])
    assert x[53, 5 + i, 5 + j] == np.float32(f_t["entropy"][i])
    assert x[54 + 0, 5 + 1, 5 + 2] == np.float32(f_t["ccmpred"][1, 2])
    assert x[56, 5 + 2, 5 + 1] == np.float32(f_t["potential"][2, 1])
    # diagonal: ends copy their neighbour, middle = (5 + 7) / 2; values < 1 A raised to 1
    expected = np.array([[5.0, 5.0, 20.0], [5.0, 6.0, 7.0], [20.0, 7.0, 7.0]])
    np.testing.assert_array_equal(y[5:8, 5:8], expected)
    assert (x[:, :5] == 0).all() and (y[:5] == 100).all() and (y[8:, 8:] == 100).all()
    # training copy of the same map: clamped at 16, padding 100 -> 16, features zero outside
    a = next(k for k in range(len(tr)) if np.isclose(tr[k, 56, 5, 5], f_a["potential"][0, 0]))
    ya = np.concatenate([data.train.y, data.valid.y])[a, 0]
    np.testing.assert_array_equal(ya[5:8, 5:8], np.minimum(expected, 16.0))
    assert (ya[8:, :] == 16).all() and (tr[a, :, 8:, :] == 0).all()
    # the long protein is one 128-window of its 135-wide padded maps
    b = 1 - a
    pot = np.pad(f_b["potential"], 5).astype(np.float32)
    hits = [(r, c) for r in range(8) for c in range(8)
            if np.array_equal(tr[b, 56], pot[r:r + 128, c:c + 128])]
    assert len(hits) == 1


def test_psicov_errors_name_files(tmp_path):
    with pytest.raises(DatasetError, match=r"\{deepcov,psicov\}\.lst.*psicov_train\.npz"):
        load_task("psicov", tmp_path)
    rng = np.random.default_rng(1)
    _psicov_protein(tmp_path, "deepcov", "aaa", 4, rng)
    (tmp_path / "protein" / "deepcov.lst").write_text("aaa\nzzz\n")
    with pytest.raises(DatasetError, match="zzz.pkl"):
        load_task("psicov", tmp_path)
    (tmp_path / "protein" / "deepcov.lst").write_text("aaa\n")
    with pytest.raises(DatasetError, match="psicov.lst"):
        load_task("psicov", tmp_path)
    _psicov_protein(tmp_path, "psicov", "ttt", 4, rng, np.ones((5, 5)))  # wrong map size
    (tmp_path / "protein" / "psicov.lst").write_text("ttt\n")
    with pytest.raises(DatasetError, match="ttt-cb.npy.*sequence length 4"):
        load_task("psicov", tmp_path)
