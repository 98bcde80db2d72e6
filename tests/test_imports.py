"""Heavy libraries stay out of the query path (DESIGN.md: a query-only user starts fast), and
torch is an optional extra whose absence ends in one clear message."""
import sys
from pathlib import Path

import pytest

from natsbench._optional import ensure_installed, require
from natsbench.errors import MissingDependencyError, NatsBenchError

#: modules that import torch at their top (each checks for it first)
TORCH_MODULES = ("natsbench.ops.fft_conv", "natsbench.ops.aggregated_conv", "natsbench.train.trainer",
                 "natsbench.train.batches", "natsbench.models.costs", "natsbench.models.wrn",
                 "natsbench.models.tss_net", "natsbench.models.sss_net", "natsbench.models.ops",
                 "natsbench.models.cell_net", "natsbench.models.tss_supernet",
                 "search_algorithms.weight_sharing.engine")
EXTRA_HINT = "pip install 'natsbench[train]'"


def test_query_modules_do_not_import_torch_matplotlib_or_ray(run_python):
    code = ("import sys, natsbench, natsbench.spaces, natsbench.store.reader, natsbench.api.bench, "
            "natsbench.api.compat, natsbench.cli, search_algorithms.runner; "
            "natsbench.cli.build_parser(); "
            "print(sorted(m for m in ('torch', 'matplotlib', 'ray') if m in sys.modules))")
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_first_query_does_not_import_pandas(run_python):
    """Import, open the bundled tss benchmark through both APIs, answer: no pandas (0.2-0.4 s)."""
    code = """
import sys
import natsbench
from natsbench.resources import BUNDLED_TSS, bundled_path
path = bundled_path(*BUNDLED_TSS)
api = natsbench.create(str(path), "tss", verbose=False)
info = api.get_more_info(7, "digits", hp=12, is_random=False)
cost = api.get_cost_info(7, "digits", hp="12")
bench = natsbench.open_bench(path)
acc = bench.metric("digits", "12", "x-test_acc1")
print(info["test-accuracy"], cost["params"], acc[7], len(acc))
print(sorted(m for m in ("pandas", "torch", "matplotlib", "ray", "sklearn") if m in sys.modules))
"""
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    answer, loaded = out.stdout.strip().splitlines()
    test_acc, params, acc7, n = answer.split()
    assert float(test_acc) == pytest.approx(float(acc7)) and float(params) > 0 and int(n) == 15625
    assert loaded == "[]"


def test_require_names_the_extra_only_for_the_missing_module_itself(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch):
    assert require("json", extra="train") is sys.modules["json"]
    ensure_installed("json", extra="train")
    for check in (require, ensure_installed):
        with pytest.raises(MissingDependencyError, match=r"no_such_module_xyz is not installed .*"
                                                         r"pip install 'natsbench\[train\]'") as info:
            check("no_such_module_xyz", extra="train")
        assert isinstance(info.value, NatsBenchError) and isinstance(info.value, ImportError)
    # an installed module that is itself broken keeps its own error (no misleading hint)
    (tmp_path / "broken_pkg_xyz").mkdir()
    (tmp_path / "broken_pkg_xyz" / "__init__.py").write_text("import another_missing_module_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as info:
        require("broken_pkg_xyz", extra="train")
    assert not isinstance(info.value, MissingDependencyError)
    assert info.value.name == "another_missing_module_xyz"


def test_without_torch_its_features_say_which_extra_to_install(run_python):
    code = f"""
import natsbench.models
from natsbench.errors import MissingDependencyError
results = []
for name in {TORCH_MODULES!r}:
    try:
        __import__(name)
        results.append("imported")
    except MissingDependencyError as exc:
        results.append(str(exc))
try:
    natsbench.models.create_model("sss", "8:8:8:8:8", num_classes=10)
except MissingDependencyError as exc:
    results.append(str(exc))
print("\\n".join(results))
"""
    out = run_python(code, hide=("torch",))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == len(TORCH_MODULES) + 1
    assert all(line.startswith("torch is not installed") and line.endswith(EXTRA_HINT) for line in lines), lines


def test_the_cli_without_torch_answers_queries_and_refuses_training_cleanly(run_python, tmp_path: Path):
    cli = "import sys; from natsbench.cli import main; sys.exit(main(sys.argv[1:]))"
    from natsbench.resources import BUNDLED_TSS, bundled_path

    out = run_python(cli, "query", str(bundled_path(*BUNDLED_TSS)), "0", "--dataset", "digits",
                     "--hp", "12", hide=("torch",))
    assert out.returncode == 0 and "x-test_acc1" in out.stdout, out.stderr
    store = tmp_path / "store"
    for args in (["train", "8:8:8:8:8", "--space", "sss", "--dataset", "digits", "--protocol", "H0:epochs=1",
                  "--seed", "1", "--store", str(store)],
                 ["build", "--space", "tss", "--archs", "2", "--dataset", "digits", "--protocol", "H0:epochs=1",
                  "--store", str(store)]):
        out = run_python(cli, *args, hide=("torch",))
        assert out.returncode != 0, (args, out.stdout)
        assert EXTRA_HINT in out.stderr and "Traceback" not in out.stderr, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert not store.exists()  # nothing written
