"""Shared fixtures; the suite writes nothing into the repository or the user's home.

* ``shared_dir`` / ``official_dir`` / ``official_tss`` / ``official_sss``: the optional files
  in the project's ``shared/`` folder (real official NATS-Bench archives, source texts of
  published tables). They are found in ``$NATSBENCH_SHARED`` or in the nearest ``shared/``
  beside an ancestor of the repository (``../shared`` for a clone, ``../../shared`` for a
  worktree under a sibling folder); tests that need them skip, with the path they looked at,
  where they are absent (DESIGN.md: data from shared/ is optional).
* natsbench's user cache (``NATSBENCH_CACHE``, official archives imported on the fly) is a
  fresh temporary folder for every test (autouse), and one per session for session fixtures.
* Hypothesis keeps its example database and other files in a temporary folder, not in
  ``.hypothesis/`` of the working directory.
* ``run_python``: a fresh interpreter running this checkout's code, optionally with modules
  made uninstallable (``hide=("torch",)``: what a user without the ``train`` extra has).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterator, Sequence

import pytest

ROOT = Path(__file__).resolve().parents[1]
OFFICIAL_TSS_NAME = "NATS-tss-v1_0-3ffb9-simple"
OFFICIAL_SSS_NAME = "NATS-sss-v1_0-50262-simple"


def _find_shared() -> Path | None:
    env = os.environ.get("NATSBENCH_SHARED")
    if env:
        return Path(env)
    for parent in ROOT.parents:
        if (parent / "shared").is_dir():
            return parent / "shared"
    return None


#: the project's shared/ folder, or None where there is none
SHARED: Path | None = _find_shared()

_session_tmp: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _session_tmp
    from hypothesis import settings
    from hypothesis.configuration import set_hypothesis_home_dir
    from hypothesis.database import DirectoryBasedExampleDatabase

    _session_tmp = Path(tempfile.mkdtemp(prefix="natsbench-tests-"))
    set_hypothesis_home_dir(_session_tmp / "hypothesis")
    settings.register_profile("natsbench-tests",
                              database=DirectoryBasedExampleDatabase(_session_tmp / "hypothesis" / "examples"))
    settings.load_profile("natsbench-tests")
    # session-scoped fixtures run before the per-test cache below: give them one too
    os.environ["NATSBENCH_CACHE"] = str(_session_tmp / "natsbench-cache")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _session_tmp is not None:
        shutil.rmtree(_session_tmp, ignore_errors=True)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """natsbench's user cache for this test only (subprocesses inherit it through the env)."""
    cache = tmp_path / "natsbench-cache"
    monkeypatch.setenv("NATSBENCH_CACHE", str(cache))
    return cache


def _shared_path(*parts: str) -> Path:
    if SHARED is None:
        pytest.skip(f"no shared/ folder beside an ancestor of {ROOT} (set NATSBENCH_SHARED); optional data")
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (optional data from shared/)")
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's shared/ folder (skips where absent)."""
    return _shared_path()


@pytest.fixture(scope="session")
def official_dir() -> Path:
    """shared/nats-official: real official NATS-Bench fast-mode archives (skips where absent)."""
    return _shared_path("nats-official")


@pytest.fixture(scope="session")
def official_tss() -> Path:
    """The real official tss archive folder (``meta.pickle.pbz2`` + some record files)."""
    return _shared_path("nats-official", OFFICIAL_TSS_NAME)


@pytest.fixture(scope="session")
def official_sss() -> Path:
    """The real official sss archive folder (``meta.pickle.pbz2`` + some record files)."""
    return _shared_path("nats-official", OFFICIAL_SSS_NAME)


#: prepended to the code run by ``run_python``: the hidden modules behave as not installed
_HIDE = """import sys
class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {hidden!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, _NotInstalled())
"""


@pytest.fixture(scope="session")
def run_python() -> Callable[..., subprocess.CompletedProcess]:
    """``run_python(code, *args, hide=(), timeout=300)``: run ``python -c code args`` in a fresh
    interpreter on this checkout (cwd = the repository root; the cache env of the test) and
    return the completed process (text stdout/stderr); modules in ``hide`` cannot be imported.
    """
    def run(code: str, *args: str, hide: Sequence[str] = (), timeout: float = 300) -> subprocess.CompletedProcess:
        prefix = _HIDE.format(hidden=tuple(hide)) if hide else ""
        path = [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
        return subprocess.run([sys.executable, "-c", prefix + code, *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=timeout)
    return run


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """One torch CPU thread for the test (the default, all cores, contends badly on a loaded
    small machine); restored afterwards."""
    torch = pytest.importorskip("torch")
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def tiny_data():
    """digits at 8x8 cut to 48 train / 32 x-valid images; the test sets carry labels no
    classifier has (99), so a test image reaching a loss would raise
    (:func:`natsbench.testing.tiny_data.tiny_digits`)."""
    from natsbench.testing.tiny_data import tiny_digits

    return tiny_digits(48, 32)
