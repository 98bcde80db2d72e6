"""The layering of DESIGN.md, enforced: the import-linter contracts of pyproject.toml
(docs/LAYERS.md) hold for this checkout, and they do break on an upward import."""
from __future__ import annotations

import ast
import fnmatch
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import natsbench
from natsbench import _version

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("natsbench", "search_algorithms", "analysis")
_LINT = ("import sys; from importlinter.cli import lint_imports; "
         "sys.exit(lint_imports(no_cache=True, no_logo=True))")


def _lint(root: Path) -> subprocess.CompletedProcess:
    """Run ``lint-imports`` (uncached: nothing is written) on the packages under ``root``."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-c", _LINT], cwd=root, env=env, capture_output=True,
                           text=True, timeout=300)


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def test_the_layer_contracts_are_kept():
    proc = _lint(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_every_cli_module_is_in_the_cli_layer():
    """The CLI layer is cli.py, demo.py, */commands.py and *_commands.py: a new command module
    must be listed in the contract that keeps it on top (wildcards cannot say ``*_commands``)."""
    on_disk = {"natsbench.cli", "natsbench.demo"}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if path.name == "commands.py" or path.name.endswith("_commands.py"):
                on_disk.add(".".join(path.relative_to(ROOT).with_suffix("").parts))
    contract = next(c for c in _config()["contracts"] if c["id"] == "cli-on-top")

    def listed(module: str, pattern: str) -> bool:  # import-linter's "*": one whole segment
        parts, pats = module.split("."), pattern.split(".")
        return len(parts) == len(pats) and all(fnmatch.fnmatchcase(a, b) for a, b in zip(parts, pats))

    unlisted = sorted(m for m in on_disk if not any(listed(m, p) for p in contract["forbidden_modules"]))
    assert not unlisted, f"add {unlisted} to the cli-on-top contract in pyproject.toml"
    assert len(on_disk) >= 10


def test_an_upward_import_breaks_the_contracts(tmp_path):
    """On a copy of the sources with the spaces importing the query API, the linter fails and
    names the import."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    victim = tmp_path / "natsbench" / "spaces" / "sss.py"
    victim.write_text(victim.read_text() + "\n\ndef _upward():\n    from natsbench.api import bench\n")
    proc = _lint(tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "natsbench.spaces is not allowed to import natsbench.api" in proc.stdout
    assert "natsbench.spaces.sss -> natsbench.api.bench" in proc.stdout


def test_one_version_read_without_the_facade():
    assert natsbench.__version__ == _version.__version__
    tree = ast.parse(Path(_version.__file__).read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    dynamic = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["dynamic"]
    assert dynamic["version"] == {"attr": "natsbench._version.__version__"}
    proc = subprocess.run([sys.executable, "-m", "natsbench.cli", "--version"], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, timeout=120)
    assert proc.stdout.strip() == f"natsbench {_version.__version__}"
