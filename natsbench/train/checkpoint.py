"""Checkpoints of training and search runs: one writer, one reader (torch).

A checkpoint is a dict of tensors and plain values (numbers, strings, lists, dicts: state
dicts, optimizer states, generator states, per-epoch rows, a run's identity) written with
``torch.save``. :func:`save_checkpoint` serialises it in memory and writes the bytes with
:func:`natsbench.store.records.atomic_write_bytes` (temporary file, fsync, rename), so a kill
during a write leaves the previous checkpoint, never a torn one. :func:`read_checkpoint` loads
it with ``torch.load(weights_only=True)``: a file holding anything else (an arbitrary pickled
object, which would run code on loading) is refused, as is a corrupt or truncated one, with an
:class:`~natsbench.errors.ArchiveError` naming the file. :func:`load_checkpoint` is the resume
step the trainers share: the checkpoint of a run if there is one and it belongs to that run.

Users: :mod:`natsbench.train.trainer` (one architecture), the weight-sharing search engine
(:mod:`search_algorithms.weight_sharing.engine`) and the DASH stages
(:mod:`search_algorithms.dash.engine`, :mod:`search_algorithms.dash.stages`).
"""
from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any, Mapping

from natsbench._optional import require

require("torch", extra="train")  # before importing it: a missing torch names the extra
import torch  # noqa: E402

from natsbench.errors import ArchiveError, PathError, require_file  # noqa: E402
from natsbench.store.records import atomic_write_bytes  # noqa: E402

__all__ = ["save_checkpoint", "read_checkpoint", "load_checkpoint", "global_rng_state",
           "set_global_rng_state"]

logger = logging.getLogger(__name__)

#: what a checkpoint may hold (the message of a refused file says so)
_CONTENTS = "a dict of tensors and plain values"


def save_checkpoint(path: str | Path, payload: Mapping[str, Any]) -> None:
    """Write ``payload`` (a dict of tensors and plain values) to ``path`` atomically.

    The parent directory is created if needed. Tensors are saved as they are (move them to
    the CPU first where the file must load on a machine without their device).
    """
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())  # a crash never leaves a torn checkpoint


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The dict :func:`save_checkpoint` wrote to ``path``, every tensor on the CPU.

    Always the CPU, whatever device wrote it: a ``torch.Generator`` state must be restored
    from a CPU byte tensor (``set_state`` refuses a CUDA one, so a run killed on a GPU could not
    resume otherwise), and ``load_state_dict`` of modules and optimizers copies the values
    onto the device of the parameters they are loaded into.

    Raises:
        PathError: ``path`` is missing, a directory, or not readable (permissions).
        ArchiveError: the file is corrupt, truncated, not a ``torch.save`` file, holds an
            object other than tensors and plain values (refused unloaded), or is not a dict;
            the message names the file.
    """
    path = require_file(path, "checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except PermissionError as exc:
        raise PathError(f"checkpoint {path} cannot be read ({exc})") from exc
    except Exception as exc:  # RuntimeError, UnpicklingError, EOFError, OSError (a torn zip), ...
        first_line = (str(exc).strip().splitlines() or [""])[0]
        raise ArchiveError(f"{path}: not a valid checkpoint ({_CONTENTS}): corrupt, truncated "
                           f"or holding other objects ({type(exc).__name__}: {first_line}); "
                           "delete it to start the run over") from exc
    if not isinstance(state, dict):
        raise ArchiveError(f"{path}: not a valid checkpoint: holds a {type(state).__name__}, "
                           f"expected {_CONTENTS}; delete it to start the run over")
    return state


def load_checkpoint(path: str | Path | None, identity: Mapping[str, Any]
                    ) -> dict[str, Any] | None:
    """The checkpoint at ``path`` if there is one and it belongs to the run ``identity``.

    Returns None when ``path`` is None or no file is there, and when the file's
    ``"identity"`` entry differs from ``identity`` (another run's checkpoint: logged and
    ignored, it is overwritten by the next save). A corrupt file raises as in
    :func:`read_checkpoint`.
    """
    if path is None or not Path(path).is_file():
        return None
    state = read_checkpoint(path)
    if state.get("identity") != identity:
        logger.warning("ignoring checkpoint %s of a different run", path)
        return None
    return state


def global_rng_state(device: torch.device) -> dict[str, Any]:
    """torch's global random states that dropout and drop-path draw from on ``device`` (the
    CPU's, and the device's on CUDA), for a checkpoint: a run resumed with
    :func:`set_global_rng_state` draws the same masks as one never stopped."""
    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_global_rng_state(state: Mapping[str, Any] | None, device: torch.device) -> None:
    """Restore what :func:`global_rng_state` saved (nothing for ``None``: older checkpoints)."""
    if state is None:
        return
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
