"""What an installation contains: every package, the bundled data as ``natsbench._data`` (no
top-level ``data``), ``py.typed``, and exactly the dependencies the code imports."""
from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import natsbench
from natsbench.resources import BUNDLED_SSS, BUNDLED_TSS, EXTCELL_SAMPLES, PUBLISHED, bundled_path, data_root

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
OURS = ("natsbench", "search_algorithms", "analysis")
#: distribution name -> the module it installs, where they differ
MODULE_OF = {"scikit-learn": "sklearn", "nas-bench-201": "nas_201_api", "import-linter": "importlinter"}


def _requirement_modules(requirements: list[str]) -> set[str]:
    names = {re.match(r"[A-Za-z0-9_.-]+", r).group(0) for r in requirements}
    return {MODULE_OF.get(n, n.lower().replace("-", "_")) for n in names if n != "natsbench"}


def _imported_third_party() -> dict[str, set[str]]:
    """Top-level modules imported anywhere in the installed packages -> the files importing them."""
    found: dict[str, set[str]] = {}
    for package in OURS:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.partition(".")[0]
                    if top not in sys.stdlib_module_names and top not in OURS and top != "__future__":
                        found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_dependencies_are_what_the_code_imports():
    extras = PYPROJECT["project"]["optional-dependencies"]
    core = _requirement_modules(PYPROJECT["project"]["dependencies"])
    optional = (_requirement_modules(extras["train"]) | _requirement_modules(extras["ray"])
                | _requirement_modules(extras["tasks"]))
    imported = _imported_third_party()
    # natsbench.testing (official-format fixtures for tests and benchmarks) may use the test extra
    testing_only = {m for m, files in imported.items()
                    if all(f.startswith("natsbench/testing/") for f in files)}
    assert testing_only <= _requirement_modules(extras["test"]), testing_only
    undeclared = set(imported) - core - optional - testing_only
    assert undeclared == set(), {m: imported[m] for m in undeclared}
    assert core - set(imported) == set(), "declared but never imported"
    assert optional <= set(imported)
    assert _requirement_modules(extras["train"]) == {"torch"} and "torch" not in core
    assert "natsbench[train]" in extras["test"]  # the suite trains


def test_every_package_is_listed_and_the_data_is_natsbench_package_data():
    setuptools = PYPROJECT["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for package in OURS
               for p in (ROOT / package).rglob("__init__.py")}
    assert set(setuptools["packages"]) == on_disk | {"natsbench._data"}
    assert setuptools["package-dir"] == {"natsbench._data": "data"}
    assert not any(name == "data" or name.startswith("data.") for name in setuptools["packages"])
    assert [p.relative_to(ROOT / "data") for p in (ROOT / "data").rglob("__init__.py")] == [Path("__init__.py")]
    shipped = setuptools["package-data"]["natsbench._data"]
    assert {f"{parts[0]}/**/*" for parts in (BUNDLED_TSS, BUNDLED_SSS, EXTCELL_SAMPLES, PUBLISHED)} <= set(shipped)
    assert "py.typed" in setuptools["package-data"]["natsbench"]
    assert (Path(natsbench.__file__).parent / "py.typed").is_file()


def test_bundled_files_are_found_through_one_accessor(monkeypatch, tmp_path):
    import natsbench.resources as resources
    from natsbench.errors import StoreError

    assert (bundled_path(*BUNDLED_TSS) / "manifest.json").is_file()
    assert bundled_path(*EXTCELL_SAMPLES).is_file() and bundled_path(*PUBLISHED).is_dir()
    assert data_root().samefile(ROOT / "data")  # this checkout's code reads this checkout's data
    monkeypatch.setattr(resources, "data_root", lambda: tmp_path)
    try:
        bundled_path(*BUNDLED_SSS)
    except StoreError as exc:
        assert "benchmarks/sss-digits is missing" in str(exc) and "reinstall" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("a missing bundled file must raise")
