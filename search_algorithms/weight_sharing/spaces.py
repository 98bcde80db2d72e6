"""Search spaces of the weight-sharing engine: one adapter per space, in a registry (no torch).

The engine (:mod:`.engine`) knows nothing about a space; everything space-specific goes
through a :class:`SpaceAdapter`:

* :meth:`~SpaceAdapter.net_settings`: the supernet's settings, from the search config and the
  benchmark manifest's ``net_config`` (e.g. tss: ``C``/``N``);
* :meth:`~SpaceAdapter.build_supernet`: the supernet (a ``torch.nn.Module`` with the
  supernet interface below) for ``num_classes`` and those settings;
* :meth:`~SpaceAdapter.to_arch`: the arch string of what an algorithm's ``derive`` returned
  (the space's *derived encoding*, e.g. tss: op positions ``[6]``);
* :meth:`~SpaceAdapter.sample`: a uniformly random derived encoding (candidates, paths);
* :attr:`~SpaceAdapter.summary_columns` / :meth:`~SpaceAdapter.summary`: the space's own
  per-row columns (tss: ``num_skip``, ``num_none``), appended after the engine's
  ``ROW_COLUMNS``;
* :attr:`~SpaceAdapter.nats_hp`: the hp NATS-Bench reports on the CIFAR/ImageNet16 datasets
  (tss 200, sss 90; ``None``: the benchmark's longest hp everywhere);
* :attr:`~SpaceAdapter.bundled`: the bundled benchmark answering the ``digits`` search.

**Supernet interface** (what the engine and the algorithm base classes use):

* ``net.weights()``: the shared weights (the SGD parameters), a list of parameters;
* ``net.arch_parameters()``: the architecture parameters (Adam of differentiable methods;
  may be empty), a list of parameters not in ``weights()``; the argmax of each along its last
  axis is the default derived encoding (one tensor: the argmax list itself, several: a list
  of them);
* ``net(x, "path", index=derived)``: the logits ``[B, classes]`` of the single network
  ``derived`` (candidate scoring); other modes are between a supernet and its algorithms.

A new space registers ``name -> "module:attribute"`` with :func:`register_space` (or one
line in :data:`WS_SPACES`) from its own module; nothing in the engine changes.  Algorithms
declare the spaces they support (class attribute ``spaces``).  docs/ALGORITHMS.md,
"Adding a space to weight-sharing search", has a worked example.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from natsbench.errors import QueryError
from natsbench.resources import BUNDLED_SSS, BUNDLED_TSS

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["SpaceAdapter", "TssAdapter", "SssAdapter", "WS_SPACES", "register_space", "get_space_adapter",
           "available_ws_spaces", "manifest_net_config"]

#: space name -> "module:attribute" of its adapter (a class or an instance; loaded on use)
WS_SPACES: dict[str, str] = {
    "tss": "search_algorithms.weight_sharing.spaces:TssAdapter",
    "sss": "search_algorithms.weight_sharing.spaces:SssAdapter",
    "extcell": "search_algorithms.weight_sharing.extcell_space:ExtCellAdapter",
}


def register_space(name: str, target: str) -> None:
    """Register the adapter ``target`` (``"module:attribute"``) of space ``name``.

    Registration lasts for this process: a space used by ``search-ws all`` (spawned worker
    processes) must be registered where its module is imported, i.e. by a line in
    :data:`WS_SPACES` or by the algorithm module that needs it.
    """
    if ":" not in target:
        raise QueryError(f"space adapter target must be 'module:attribute'; got {target!r}")
    WS_SPACES[str(name)] = target


def available_ws_spaces() -> tuple[str, ...]:
    """Names of the registered spaces."""
    return tuple(WS_SPACES)


def get_space_adapter(name: str) -> "SpaceAdapter":
    """The adapter of space ``name``; QueryError naming the registered spaces otherwise."""
    try:
        target = WS_SPACES[name]
    except (KeyError, TypeError):
        raise QueryError(f"weight-sharing search has no space {name!r}; valid: "
                         f"{', '.join(WS_SPACES)}") from None
    module, attr = target.split(":")
    obj = getattr(importlib.import_module(module), attr)
    return obj() if isinstance(obj, type) else obj


def manifest_net_config(bench: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(net_config, protocol)`` of a benchmark's manifest (empty dicts where absent)."""
    manifest = getattr(bench, "manifest", None)
    net_cfg = dict(getattr(manifest, "net_config", None) or {}) if manifest is not None else {}
    prov = dict(getattr(manifest, "provenance", None) or {}) if manifest is not None else {}
    protocol = prov.get("protocol", {}) if isinstance(prov.get("protocol"), dict) else {}
    return net_cfg, protocol


class SpaceAdapter:
    """What the engine needs to know about one search space (see the module docstring)."""

    name: str = ""
    nats_hp: str | None = None
    bundled: tuple[str, ...] | None = None
    summary_columns: tuple[str, ...] = ()

    def net_settings(self, config: Any, net_config: dict[str, Any]) -> dict[str, Any]:
        """Supernet keyword settings: the config's where set, else the manifest's."""
        return {}

    def build_supernet(self, num_classes: int, settings: dict[str, Any]) -> "torch.nn.Module":
        raise NotImplementedError

    def to_arch(self, derived: Any) -> str:
        """The arch string of a derived encoding."""
        raise NotImplementedError

    def sample(self, generator: "torch.Generator") -> Any:
        """A uniformly random derived encoding, drawn from ``generator``."""
        raise NotImplementedError

    def summary(self, arch: str) -> dict[str, int | float]:
        """Values of :attr:`summary_columns` for ``arch``."""
        return {}


class TssAdapter(SpaceAdapter):
    """tss: :class:`natsbench.models.tss_supernet.TssSupernet`; derived encoding = op
    positions ``[6]`` (``tss.EDGES`` order, ``tss.OPS`` positions); columns ``num_skip``,
    ``num_none`` (edges of the derived arch)."""

    name = "tss"
    nats_hp = "200"
    bundled = BUNDLED_TSS
    summary_columns = ("num_skip", "num_none")

    def net_settings(self, config: Any, net_config: dict[str, Any]) -> dict[str, Any]:
        kw = net_config.get("model_kwargs", {})
        C = config.C if config.C is not None else int(kw.get("C", net_config.get("channel", 16)))
        N = config.N if config.N is not None else int(kw.get("N", net_config.get("num_cells", 5)))
        return {"C": C, "N": N}

    def build_supernet(self, num_classes: int, settings: dict[str, Any]) -> "torch.nn.Module":
        from natsbench.models.tss_supernet import TssSupernet

        return TssSupernet(num_classes, **settings)

    def to_arch(self, derived: Any) -> str:
        from natsbench.spaces import tss

        return tss.from_op_indices(derived)

    def sample(self, generator: "torch.Generator") -> list[int]:
        import torch

        from natsbench.spaces import tss

        return torch.randint(0, len(tss.OPS), (len(tss.EDGES),), generator=generator).tolist()

    def summary(self, arch: str) -> dict[str, int | float]:
        from natsbench.spaces import tss

        ops = tss.parse(arch)
        return {"num_skip": sum(o == "skip_connect" for o in ops),
                "num_none": sum(o == "none" for o in ops)}


class SssAdapter(SpaceAdapter):
    """sss: :class:`natsbench.models.sss_supernet.SssSupernet` over the candidate widths
    ``sss.CHANNELS``; derived encoding = candidate positions ``[5]`` (``C1..C5``); columns
    ``mean_width`` (mean of the five widths) and ``num_max_width`` (positions at the largest
    width).  NATS-Bench reports hp 90."""

    name = "sss"
    nats_hp = "90"
    bundled = BUNDLED_SSS
    summary_columns = ("mean_width", "num_max_width")

    def net_settings(self, config: Any, net_config: dict[str, Any]) -> dict[str, Any]:
        from natsbench.spaces import sss

        return {"candidates": tuple(sss.CHANNELS)}

    def build_supernet(self, num_classes: int, settings: dict[str, Any]) -> "torch.nn.Module":
        from natsbench.models.sss_supernet import SssSupernet

        return SssSupernet(num_classes, **settings)

    def to_arch(self, derived: Any) -> str:
        from natsbench.spaces import sss

        return sss.to_str([sss.CHANNELS[int(k)] for k in derived])

    def sample(self, generator: "torch.Generator") -> list[int]:
        import torch

        from natsbench.spaces import sss

        return torch.randint(0, len(sss.CHANNELS), (sss.NUM_LAYERS,), generator=generator).tolist()

    def summary(self, arch: str) -> dict[str, int | float]:
        from natsbench.spaces import sss

        widths = sss.parse(arch)
        return {"mean_width": sum(widths) / len(widths),
                "num_max_width": sum(w == max(sss.CHANNELS) for w in widths)}
