"""Entropy-based proxy data (Na 2022, ch. 3): the selection rules against hand-built entropies and
histograms, the index file and its checks, the auxiliary model and its cache, the restriction of
a search to the selection (asserted on the engine's recorded batch indices), the CLI end to end."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from natsbench.datasets import load_dataset
from natsbench.datasets.proxy import (FORMAT, apply_proxy_selection, labels_digest,
                                      log_entropy_histogram, parse_size, read_proxy_selection,
                                      select_proxy, selection_probabilities, split_halves)
from natsbench.errors import ConfigError, DatasetError, PathError


# --- hand-built entropies --------------------------------------------------------------------
# log10 entropies in 0.5-wide bins [-4,-3.5): 1 example, [-3.5,-3): 3, [-3,-2.5): none,
# [-2.5,-2): 6  -> heights (1, 3, 0, 6), max 6
HAND = 10.0 ** np.array([-3.8, -3.4, -3.2, -3.1, -2.4, -2.3, -2.3, -2.2, -2.1, -2.05])
BIN_A, BIN_B, BIN_D = [0], [1, 2, 3], [4, 5, 6, 7, 8, 9]


def test_log_entropy_histogram_bins_by_hand() -> None:
    bins, heights = log_entropy_histogram(HAND, 0.5)
    assert heights.tolist() == [1, 3, 0, 6]
    assert bins.tolist() == [0, 1, 1, 1, 3, 3, 3, 3, 3, 3]
    # a saturated softmax (entropy exactly 0) is binned, not -inf
    bins0, heights0 = log_entropy_histogram(np.array([0.0, 1e-3, 0.5]), 0.5)
    assert bins0[0] == 0 and heights0.sum() == 3


@pytest.mark.parametrize("weights, expected_a, expected_b, expected_d", [
    # W1 = max - h + 1 = (6, 4, -, 1); per example W/h = 6, 4/3, 1/6; total 6 + 4 + 1 = 11
    ("w1", 6 / 11, 4 / 33, 1 / 66),
    # W2 = 1 per filled bin; per example 1, 1/3, 1/6; total 3
    ("w2", 1 / 3, 1 / 9, 1 / 18),
    # W3 = 1/h; per example 1, 1/9, 1/36; total 1.5
    ("w3", 2 / 3, 2 / 27, 1 / 54),
])
def test_probabilities_match_the_hand_built_histogram(weights, expected_a, expected_b,
                                                      expected_d) -> None:
    p = selection_probabilities(HAND, weights, 0.5)
    assert p.sum() == pytest.approx(1.0)
    assert p[BIN_A] == pytest.approx([expected_a])
    assert p[BIN_B] == pytest.approx([expected_b] * 3)
    assert p[BIN_D] == pytest.approx([expected_d] * 6)


def test_p1_draws_follow_its_probabilities() -> None:
    """k=1 draws over many seeds: the bin frequencies approach P1's bin masses (6/11, 4/11, 1/11)."""
    draws = np.array([select_proxy(HAND, "p1", 1, seed=s, bin_width=0.5)[0] for s in range(4000)])
    freq = [np.isin(draws, b).mean() for b in (BIN_A, BIN_B, BIN_D)]
    assert freq == pytest.approx([6 / 11, 4 / 11, 1 / 11], abs=0.03)


@pytest.fixture(scope="module")
def entropy() -> np.ndarray:
    """1,000 distinct entropies over five decades, in a random order."""
    rng = np.random.default_rng(5)
    return 10.0 ** rng.permutation(np.linspace(-5, 0, 1000))


@pytest.mark.parametrize("rule", ["random", "top", "bottom", "tails", "p1", "p2", "p3"])
def test_every_rule_returns_k_distinct_sorted_indices(rule, entropy) -> None:
    for k in (2, 37, 500, 1000):
        idx = select_proxy(entropy, rule, k, seed=3)
        assert idx.dtype == np.int64 and idx.shape == (k,)
        assert np.unique(idx).size == k and np.all(np.diff(idx) > 0)
        assert idx.min() >= 0 and idx.max() < entropy.size


def test_top_bottom_tails_take_the_intended_entropies(entropy) -> None:
    k = 100
    ranked = np.argsort(entropy)                 # ascending, all distinct
    top = select_proxy(entropy, "top", k)
    bottom = select_proxy(entropy, "bottom", k)
    assert set(top) == set(ranked[-k:].tolist())
    assert set(bottom) == set(ranked[:k].tolist())
    assert entropy[top].min() > np.delete(entropy, top).max()
    assert entropy[bottom].max() < np.delete(entropy, bottom).min()
    tails = select_proxy(entropy, "tails", k, beta=0.9)     # bottom 90 + top 10
    assert set(tails) == set(ranked[:90].tolist()) | set(ranked[-10:].tolist())
    tails7 = select_proxy(entropy, "tails", 10, beta=0.75)  # round(7.5) = 8 low + 2 high
    assert set(tails7) == set(ranked[:8].tolist()) | set(ranked[-2:].tolist())


def test_p1_prefers_the_tails_over_random(entropy) -> None:
    """P1 on a uniform-in-log histogram: all bins equally high, so P1 is uniform too; on a
    peaked one (most examples in one bin) P1 under-samples the peak."""
    rng = np.random.default_rng(0)
    peaked = 10.0 ** np.concatenate([rng.uniform(-2.0, -1.5, 900), rng.uniform(-5, -2, 50),
                                     rng.uniform(-1.5, 0, 50)])
    middle = np.flatnonzero((peaked >= 10**-2.0) & (peaked < 10**-1.5))
    p1 = select_proxy(peaked, "p1", 100, seed=1, bin_width=0.5)
    rnd = select_proxy(peaked, "random", 100, seed=1)
    assert np.isin(p1, middle).sum() < 30 < np.isin(rnd, middle).sum()


def test_seeded_rules_repeat_and_seeds_differ(entropy) -> None:
    for rule in ("random", "p1", "p2", "p3"):
        a = select_proxy(entropy, rule, 50, seed=11)
        assert np.array_equal(a, select_proxy(entropy, rule, 50, seed=11))
        assert not np.array_equal(a, select_proxy(entropy, rule, 50, seed=12))


def test_bad_rule_arguments_are_clear(entropy) -> None:
    with pytest.raises(ConfigError, match="p9"):
        select_proxy(entropy, "p9", 5)
    with pytest.raises(ConfigError, match="1..1000"):
        select_proxy(entropy, "top", 1001)
    with pytest.raises(ConfigError, match="beta"):
        select_proxy(entropy, "tails", 5, beta=1.0)
    with pytest.raises(ConfigError, match="bin width"):
        select_proxy(entropy, "p1", 5, bin_width=0)
    with pytest.raises(ConfigError, match="finite"):
        select_proxy(np.array([0.1, np.nan]), "top", 1)


def test_parse_size() -> None:
    assert parse_size("500", 1297) == 500
    assert parse_size("10%", 1297) == 129            # floor, as the thesis's code
    assert parse_size("0.1", 1297) == 129
    assert parse_size("1.0", 1297) == 1297
    assert parse_size(40, 1297) == 40
    for bad, match in (("1", "k=1"), ("1298", "1297"), ("1.5", "1.5"), ("x", "'x'"),
                       ("0%", "k=0"), ("inf%", "'inf%'"), ("nan%", "nan")):
        with pytest.raises(ConfigError, match=match):
            parse_size(bad, 1297)


# --- the file and its use -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", image_size=8)


def _write(path: Path, data, indices, **changes) -> Path:
    doc = {"format": FORMAT, "dataset": data.name, "train_size": len(data.train),
           "labels_sha1": labels_digest(data.train.labels), "seed": 4, "selection": "top",
           "indices": [int(i) if isinstance(i, np.integer) else i for i in indices], **changes}
    path.write_text(json.dumps(doc))
    return path


def test_apply_splits_the_selection_evenly_and_drops_every_other_set(digits, tmp_path) -> None:
    chosen = np.arange(0, 1297, 13)[:91]                      # 91 examples
    sel = read_proxy_selection(_write(tmp_path / "s.json", digits, chosen[::-1]), "digits")
    assert sel.indices.tolist() == chosen.tolist()           # sorted on reading
    out = apply_proxy_selection(digits, sel)
    assert set(out.eval_sets) == {"x-valid"}                 # no test set, no original x-valid
    w, a = split_halves(sel)
    assert len(w) == 45 and len(a) == 46 and not set(w) & set(a)
    assert set(w) | set(a) == set(chosen.tolist())
    assert np.array_equal(out.train.images, digits.train.images[w])
    assert np.array_equal(out.train.labels, digits.train.labels[w])
    assert np.array_equal(out.eval_sets["x-valid"].images, digits.train.images[a])
    prov = out.provenance["proxy_data"]
    assert prov["train_indices"] == w.tolist() and prov["x-valid_indices"] == a.tolist()
    assert out.mean == digits.mean and out.std == digits.std
    # the split is a function of the file: same halves again, other halves for another seed
    again = apply_proxy_selection(digits, read_proxy_selection(tmp_path / "s.json"))
    assert np.array_equal(again.train.labels, out.train.labels)
    other = read_proxy_selection(_write(tmp_path / "o.json", digits, chosen, seed=5))
    assert split_halves(other)[0].tolist() != w.tolist()


@pytest.mark.parametrize("changes, match", [
    ({"indices": [0, 1297]}, "out of range"),
    ({"indices": [-1, 3]}, "out of range"),
    ({"indices": [4, 4, 5]}, "repeated"),
    ({"indices": [4]}, ">= 2"),
    ({"indices": [1.5, 2]}, "list of ints"),
    ({"seed": "4"}, "seed must be"),
    ({"dataset": "cifar100"}, "cifar100"),
    ({"format": "other/1"}, "format"),
])
def test_bad_files_are_clear_errors(digits, tmp_path, changes, match) -> None:
    changes = dict(changes)
    indices = changes.pop("indices", [1, 2, 3])
    path = _write(tmp_path / "bad.json", digits, indices, **changes)
    with pytest.raises(DatasetError, match=match):
        read_proxy_selection(path, "digits")


def test_not_json_missing_and_other_split(digits, tmp_path) -> None:
    (tmp_path / "x.json").write_bytes(b"\x80\x03pickle")
    with pytest.raises(DatasetError, match="not JSON"):
        read_proxy_selection(tmp_path / "x.json")
    with pytest.raises(PathError, match="does not exist"):
        read_proxy_selection(tmp_path / "none.json")
    other_split = load_dataset("digits", image_size=8, split_seed=1)
    sel = read_proxy_selection(_write(tmp_path / "s.json", digits, [1, 2, 3]))
    with pytest.raises(DatasetError, match="same split"):
        apply_proxy_selection(other_split, sel)


# --- auxiliary model, entropies, cache ---------------------------------------------------------
needs_torch = pytest.mark.skipif(__import__("importlib").util.find_spec("torch") is None,
                                 reason="torch (the train extra) is not installed")
TINY_AUX = dict(channels=4, cells=1, epochs=1, batch_size=64, seed=1)


@needs_torch
def test_aux_model_sees_train_only_and_is_cached(digits, tmp_path, monkeypatch) -> None:
    from natsbench.train import proxy_data as pd_mod
    from natsbench.train.proxy_data import AuxSettings, aux_entropies

    seen = []
    real_run = pd_mod._Run

    def spy(net, data, train_set, *a, **kw):
        seen.append((set(data.eval_sets), len(train_set)))
        return real_run(net, data, train_set, *a, **kw)

    monkeypatch.setattr(pd_mod, "_Run", spy)
    tiny = AuxSettings(**TINY_AUX)
    ent, meta = aux_entropies(digits, tiny, cache_dir=tmp_path / "c", num_threads=1)
    assert seen == [(set(), 1297)] and meta["cache_hit"] is False
    assert ent.shape == (1297,) and np.all(ent >= 0) and np.all(ent <= np.log(10) + 1e-9)
    again, meta2 = aux_entropies(digits, tiny, cache_dir=tmp_path / "c", num_threads=1)
    assert meta2["cache_hit"] is True and len(seen) == 1 and np.array_equal(ent, again)
    # a fresh training gives the same entropies (seeded, CPU); other aux settings do not hit
    fresh, _ = aux_entropies(digits, tiny, cache_dir=tmp_path / "d", num_threads=1)
    assert np.array_equal(ent, fresh)
    # every aux setting and the train split are part of the cache key
    key = pd_mod._cache_path(digits, tiny, tmp_path)
    assert pd_mod._cache_path(digits, AuxSettings(**{**TINY_AUX, "seed": 2}), tmp_path) != key
    assert pd_mod._cache_path(digits, AuxSettings(**{**TINY_AUX, "epochs": 2}), tmp_path) != key
    other_split = load_dataset("digits", image_size=8, split_seed=1)
    assert pd_mod._cache_path(other_split, tiny, tmp_path) != key
    # misclassified examples are the uncertain ones
    with np.load(meta["cache_file"], allow_pickle=False) as f:
        wrong = f["predicted"] != digits.train.labels
    assert wrong.any() and ent[wrong].mean() > ent[~wrong].mean()


@needs_torch
def test_make_proxy_selection_document(digits, tmp_path) -> None:
    from natsbench.train.proxy_data import AuxSettings, aux_entropies, make_proxy_selection

    tiny = AuxSettings(**TINY_AUX)
    doc = make_proxy_selection(digits, "tails", "10%", seed=2, beta=0.9, aux=tiny,
                               cache_dir=tmp_path, num_threads=1)
    ent, meta = aux_entropies(digits, tiny, cache_dir=tmp_path)
    assert meta["cache_hit"]
    assert doc["k"] == 129 and doc["dataset"] == "digits" and doc["train_size"] == 1297
    assert doc["indices"] == select_proxy(ent, "tails", 129, beta=0.9).tolist()
    assert doc["parameters"] == {"beta": 0.9} and doc["aux_model"]["aux"]["channels"] == 4
    hist = doc["entropy"]["histogram_log10"]
    assert sum(hist["selected"]) == 129 and sum(hist["all"]) == 1297
    rnd = make_proxy_selection(digits, "random", 50, seed=2, aux=tiny, cache_dir=tmp_path)
    assert rnd["aux_model"] is None and len(rnd["indices"]) == 50


# --- a search restricted to the selection --------------------------------------------------------
@needs_torch
def test_search_reads_only_the_selected_examples(digits, tmp_path) -> None:
    from natsbench.resources import BUNDLED_TSS, bundled_path
    from search_algorithms.weight_sharing import get_config, run_search
    from search_algorithms.weight_sharing.grid import load_proxy_search_data

    bench = bundled_path(*BUNDLED_TSS)
    chosen = np.sort(np.random.default_rng(0).choice(1297, 60, replace=False))
    path = _write(tmp_path / "s.json", digits, chosen)
    cfg = get_config("digits", epochs=1, C=4, N=1, batch_size=16, eval_batch_size=16)
    data, sel = load_proxy_search_data("digits", cfg, bench, path)
    assert len(data.train) == 30 and len(data.eval_sets["x-valid"]) == 30
    engines: list = []
    rows = run_search("darts-v1", "digits", cfg, 7, bench, data=data, engine_out=engines,
                      num_threads=1)
    used = engines[0].used
    assert set(used) == {"train", "x-valid"}
    assert used["train"] == set(range(30))               # one epoch = every weight example
    prov = data.provenance["proxy_data"]
    orig_w = {prov["train_indices"][i] for i in used["train"]}
    orig_a = {prov["x-valid_indices"][i] for i in used["x-valid"]}
    assert orig_w | orig_a <= set(chosen.tolist()) and not orig_w & orig_a
    # seeded: the same rows again
    rows2 = run_search("darts-v1", "digits", cfg, 7, bench, data=data, num_threads=1)
    strip = [{k: v for k, v in r.items() if k != "search_time"} for r in rows]
    assert strip == [{k: v for k, v in r.items() if k != "search_time"} for r in rows2]


def _cli(*args: str) -> int:
    from natsbench.cli import main

    return main(list(args))


@needs_torch
def test_cli_end_to_end_on_digits(tmp_path, isolated_cache, monkeypatch, capsys) -> None:
    import pandas as pd

    aux = ["--aux-epochs", "1", "--aux-channels", "4", "--aux-cells", "1", "--image-size", "8",
           "--no-progress"]
    out = tmp_path / "p1.json"
    assert _cli("proxy-data", "--dataset", "digits", "--selection", "p1", "--size", "10%",
                "--seed", "3", "--out", str(out), *aux) == 0
    assert "129 of 1297 digits train examples (p1)" in capsys.readouterr().out
    doc = json.loads(out.read_text())
    assert doc["k"] == 129 and doc["selection"] == "p1" and doc["parameters"]["weights"] == "w1"
    assert doc["seed"] == 3 and doc["natsbench"] and doc["date"] and doc["split"]
    assert list((isolated_cache / "proxy-entropy").glob("digits-*.npz"))
    again = tmp_path / "again.json"
    assert _cli("proxy-data", "--dataset", "digits", "--selection", "p1", "--size", "10%",
                "--seed", "3", "--out", str(again), *aux) == 0
    assert json.loads(again.read_text())["indices"] == doc["indices"]
    assert json.loads(again.read_text())["aux_model"]["cache_file"] == doc["aux_model"]["cache_file"]
    rows = tmp_path / "ws.parquet"
    assert _cli("search-ws", "gdas", "--dataset", "digits", "--epochs", "1", "--seeds", "5",
                "--proxy-data", str(out), "--out", str(rows), "--no-progress",
                "--checkpoint-dir", str(tmp_path / "ck")) == 0
    frame = pd.read_parquet(rows)
    assert frame["proxy_k"].tolist() == [129] and frame["proxy_selection"].tolist() == ["p1"]
    assert [p.parent.name.startswith("proxy-") for p in (tmp_path / "ck").rglob("*.pt")] == [True]
    # a file made for another dataset is refused before any search
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**doc, "dataset": "cifar100"}))
    capsys.readouterr()
    assert _cli("search-ws", "gdas", "--dataset", "digits", "--epochs", "1", "--proxy-data",
                str(other), "--out", str(tmp_path / "x.parquet")) == 2
    err = capsys.readouterr().err
    assert "cifar100" in err and "Traceback" not in err and not (tmp_path / "x.parquet").exists()



@needs_torch
def test_cifar_format_files_through_the_existing_loader(tmp_path) -> None:
    """cifar10-valid from the small CIFAR files the format tests write (100 images, train 50)."""
    from natsbench.train.proxy_data import AuxSettings, make_proxy_selection, write_proxy_selection
    from tests.test_datasets_formats import write_cifar10

    write_cifar10(tmp_path / "data")
    doc = make_proxy_selection("cifar10-valid", "p1", "40%", seed=1, data_root=tmp_path / "data",
                               aux=AuxSettings(**TINY_AUX), cache_dir=tmp_path / "c",
                               num_threads=1)
    assert doc["dataset"] == "cifar10-valid" and doc["train_size"] == 50 and doc["k"] == 20
    assert doc["parameters"] == {"bin_width": 0.5, "weights": "w1"}
    path = write_proxy_selection(doc, tmp_path / "p.json")
    data = load_dataset("cifar10-valid", root=tmp_path / "data")
    out = apply_proxy_selection(data, read_proxy_selection(path, "cifar10-valid"))
    assert len(out.train) == 10 and len(out.eval_sets["x-valid"]) == 10
    assert out.image_shape == (3, 32, 32)
