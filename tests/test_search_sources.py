"""Evaluation sources of a search: the table, a surrogate, live training (issue #13)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import natsbench
from natsbench.api import evaluation
from natsbench.errors import NatsBenchError, QueryError
from search_algorithms.base import Algorithm, Trial
from search_algorithms.problem import TabularProblem
from search_algorithms.runner import Runner, RunSpec, run_one, traces_to_frame

ROOT = Path(__file__).resolve().parents[1]
SSS = ROOT / "data" / "benchmarks" / "sss-digits"


class FixedArchs(Algorithm):
    """Asks the given encodings in turn (each at ``epochs``), records what it is told."""

    def __init__(self, space, rng, *, archs=(), epochs=None, **kw):
        super().__init__(space, rng, **kw)
        self.archs = [tuple(a) for a in archs]
        self.epochs = epochs
        self.told: list[float] = []
        self.i = 0

    def ask(self):
        if self.i == len(self.archs):
            return None
        self.i += 1
        return Trial(self.archs[self.i - 1], self.epochs, self.i)

    def tell(self, trial, feedback):
        self.told.append(feedback)


@pytest.fixture(scope="module")
def sss_bench():
    return natsbench.open_bench(SSS)


@pytest.fixture(scope="module")
def sss_surrogate_problem(sss_bench):
    return TabularProblem.from_bench(sss_bench, "digits", on_missing="surrogate")


def test_error_policy_keeps_todays_message(sss_bench):
    problem = TabularProblem.from_bench(sss_bench, "digits")
    with pytest.raises(QueryError, match="no search-protocol result for '40:64:32:56:56'"):
        Runner(problem, "rea", max_evals=50).run(0)


def test_sss_sample_searchable_with_surrogate_rows_flagged_and_times_predicted(
        sss_surrogate_problem):
    problem = sss_surrogate_problem
    frame = traces_to_frame([Runner(problem, "rea", max_evals=200).run(r) for r in range(3)],
                            problem, RunSpec("rea", max_evals=200))
    assert len(frame) == 600
    sur = frame[frame["source"] == "surrogate"]
    tab = frame[frame["source"] == "table"]
    assert len(sur) > 100 and len(tab) > 0
    rows = np.asarray(frame["arch"].cat.codes)
    measured = problem.seed_count[rows] > 0
    assert np.array_equal(measured, (frame["source"] == "table").to_numpy())
    assert (sur["seed"] == -1).all() and (tab["seed"] == 777).all()
    # the clock is charged with the predicted time of a full (12-epoch) run
    cost = (frame["sim_time"] - frame["start_time"]).to_numpy()
    r = rows[~measured]
    np.testing.assert_allclose(cost[~measured],
                               problem.sur_cum_train[r, -1] + problem.sur_valid_per_time[r, -1])
    r = rows[measured]
    np.testing.assert_allclose(cost[measured],
                               problem.cum_train[r, 0, -1] + problem.valid_per_time[r, 0, -1])
    # table rows tell the measured validation accuracy
    np.testing.assert_array_equal(tab["feedback"].to_numpy(), problem.valid_acc[r, 0, -1])
    assert set(frame["reported_source"].astype(str)) <= {"table", "surrogate"}


def test_repeated_surrogate_queries_vary_like_retrainings(sss_surrogate_problem):
    problem = sss_surrogate_problem
    row = int(np.flatnonzero(problem.seed_count == 0)[0])
    code = tuple(problem.codes[row].tolist())
    n = 400
    trace = run_one(problem, RunSpec(lambda s, g, **kw: FixedArchs(s, g, archs=[code] * n, **kw), max_evals=n), 0)
    fb = trace.feedback
    assert (trace.source == 1).all()
    sd = problem.sur_noise[-1]
    assert sd > 0
    assert abs(fb.mean() - problem.sur_mean[row, -1]) < 4 * sd / np.sqrt(n)
    assert 0.8 * sd < fb.std() < 1.2 * sd
    # the draws come from the run's seed: same run, same numbers; other run, other numbers
    again = run_one(problem, RunSpec(lambda s, g, **kw: FixedArchs(s, g, archs=[code] * n, **kw), max_evals=n), 0)
    other = run_one(problem, RunSpec(lambda s, g, **kw: FixedArchs(s, g, archs=[code] * n, **kw), max_evals=n), 1)
    assert np.array_equal(fb, again.feedback) and not np.array_equal(fb, other.feedback)


def test_surrogate_feedback_never_sees_a_test_set(sss_bench, monkeypatch):
    calls = []
    real = evaluation._final_predictions

    def spy(sb, bench, dataset, hp, metric, archs):
        calls.append(metric)
        return real(sb, bench, dataset, hp, metric, archs)

    monkeypatch.setattr(evaluation, "_final_predictions", spy)
    archs = sss_bench.arch_strs[:300]
    with_report = evaluation.surrogate_curves(sss_bench, "digits", "12", "x-valid", archs,
                                              report=("digits", "x-test", "12"))
    feedback_calls = calls[:-1]
    assert calls[-1] == "x-test_acc1"                  # only the reported number
    assert all("test" not in m for m in feedback_calls), feedback_calls
    calls.clear()
    without = evaluation.surrogate_curves(sss_bench, "digits", "12", "x-valid", archs)
    assert all("test" not in m for m in calls)
    np.testing.assert_array_equal(with_report.mean, without.mean)
    np.testing.assert_array_equal(with_report.noise_sd, without.noise_sd)
    assert np.isnan(without.reported).all() and np.isfinite(with_report.reported).all()


def test_cli_search_on_missing_surrogate(tmp_path):
    out = tmp_path / "rea.parquet"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "natsbench.cli", "search", "rea", "--bench", str(SSS),
           "--dataset", "digits", "--runs", "2", "--workers", "1", "--no-progress",
           "--out", str(out)]
    failed = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert failed.returncode != 0
    assert "no search-protocol result for '40:64:32:56:56'" in failed.stderr
    done = subprocess.run(cmd + ["--on-missing", "surrogate", "--sim-workers", "2"],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "PREDICTED" in done.stdout
    import pandas as pd

    frame = pd.read_parquet(out)
    assert {"source", "start_time", "worker"} <= set(frame.columns)
    assert set(frame["source"].astype(str)) == {"table", "surrogate"}
    assert set(frame["worker"]) == {0, 1}


def test_bad_policy_is_a_natsbench_error(sss_bench):
    with pytest.raises(NatsBenchError, match="error, surrogate, train"):
        TabularProblem.from_bench(sss_bench, "digits", on_missing="guess")


# -- live training ---------------------------------------------------------------------------
TINY_PROTOCOL = "H0:epochs=2,batch_size=256,eval_batch_size=1024,train_fraction=0.3"


@pytest.fixture(scope="module")
def tiny_bench(tmp_path_factory):
    """A 2-arch sss benchmark trained with a 2-epoch protocol on 8x8 digits."""
    from natsbench.build.builder import build
    from natsbench.spaces import get_space

    base = tmp_path_factory.mktemp("tiny")
    archs = base / "archs.txt"
    archs.write_text("8:8:8:8:8\n16:8:8:8:8\n")
    build(space="sss", datasets=["digits"], protocol=TINY_PROTOCOL, seeds=[5],
          store=base / "bench", archs=str(archs), progress=False, image_size=8)
    assert get_space("sss").size == 32768
    return natsbench.open_bench(base / "bench")


def test_train_policy_writes_the_cache_store_and_the_next_query_is_a_table_hit(
        tiny_bench, tmp_path, monkeypatch):
    monkeypatch.setenv("NATSBENCH_CACHE", str(tmp_path / "cache"))
    hp = tiny_bench.hps("digits")[0]
    before = sorted(p.relative_to(tiny_bench.path) for p in Path(tiny_bench.path).rglob("*"))
    problem = TabularProblem.from_bench(tiny_bench, "digits", search_hp=hp, on_missing="train")
    assert problem.num_archs == 32768
    new = tuple(int(c) for c in problem.space.encode("24:8:16:8:8"))
    spec = RunSpec(lambda s, g, **kw: FixedArchs(s, g, archs=[new, new], **kw), max_evals=2)
    first = run_one(problem, spec, 0)
    assert first.source.tolist() == [2, 0]            # trained, then a table hit in the run
    assert first.seed.tolist() == [5, 5]
    assert first.feedback[0] == first.feedback[1]
    # charged with the measured time of the record
    records = evaluation.cached_records(tiny_bench, "digits", hp)
    assert [r.arch for r in records] == ["24:8:16:8:8"]
    rec = records[0]
    measured = sum(rec.metrics["train_time"]) + np.mean(rec.metrics["x-valid_time"])
    assert first.sim_time[0] == pytest.approx(measured)
    assert first.feedback[0] == rec.metrics["x-valid_acc1"][-1]
    store = evaluation.user_cache_store(tiny_bench)
    assert str(store).startswith(str(tmp_path / "cache"))
    after = sorted(p.relative_to(tiny_bench.path) for p in Path(tiny_bench.path).rglob("*"))
    assert after == before                             # nothing written into the benchmark
    # a new problem reads the cache: a table hit with identical numbers, no training
    again = TabularProblem.from_bench(tiny_bench, "digits", search_hp=hp, on_missing="error")
    second = run_one(again, spec, 0)
    assert second.source.tolist() == [0, 0]
    assert second.feedback[0] == first.feedback[0]
    assert second.sim_time[0] == first.sim_time[0]
    assert again.reported[again.row_of(new)] == rec.metrics["x-test_acc1"][-1]


def test_query_reads_the_trained_record_from_the_cache_store(tiny_bench, tmp_path, monkeypatch):
    """`natsbench query` and the search share the sources: a run trained by a search is a
    table hit for `natsbench query`, with the record's numbers."""
    import json

    cache = tmp_path / "cache"
    monkeypatch.setenv("NATSBENCH_CACHE", str(cache))
    hp = tiny_bench.hps("digits")[0]
    problem = TabularProblem.from_bench(tiny_bench, "digits", search_hp=hp, on_missing="train")
    code = tuple(int(c) for c in problem.space.encode("8:16:8:8:8"))
    run_one(problem, RunSpec(lambda s, g, **kw: FixedArchs(s, g, archs=[code], **kw),
                             max_evals=1), 0)
    record = evaluation.cached_records(tiny_bench, "digits", hp)[0]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NATSBENCH_CACHE": str(cache)}
    out = subprocess.run([sys.executable, "-m", "natsbench.cli", "query", str(tiny_bench.path),
                          "8:16:8:8:8", "--dataset", "digits", "--hp", hp, "--json"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["source"] == "table" and answer["measured"]
    assert answer["values"]["x-valid_acc1"] == record.metrics["x-valid_acc1"][-1]
    # without the cache the architecture is unknown to the benchmark
    env["NATSBENCH_CACHE"] = str(tmp_path / "empty")
    out = subprocess.run([sys.executable, "-m", "natsbench.cli", "query", str(tiny_bench.path),
                          "8:16:8:8:8", "--dataset", "digits", "--hp", hp, "--json"],
                         capture_output=True, text=True, env=env)
    assert json.loads(out.stdout)["source"] == "none"
