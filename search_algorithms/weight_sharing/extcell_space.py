"""The ExtCell space of the weight-sharing engine (Na's thesis ch. 4): adapter and supernet.

* :class:`ExtCellAdapter` (registered as space ``extcell``): the supernet is a
  :class:`natsbench.models.darts_supernet.StrengthSupernet` (the DARTS-cell supernet with an
  attachable strength parametrisation) at the benchmark's ``C`` and
  ``layers`` (manifest ``net_config.model_kwargs``; the config's ``C`` and ``N`` override
  them, ``N`` meaning the number of cells here) and the benchmark's operation budget ``k``
  (``net_config.space_options.k``; the config's ``k`` overrides it). The derived encoding is
  the canonical ExtCell string itself. Row columns: ``num_normal``, ``num_reduce``
  (operations per cell) and ``num_unconnected`` (intermediate nodes of both cells that no
  path reaches).
  Its architecture parameters are those of the strength parametrisation an algorithm of
  :mod:`.btnas` attaches; its ``path`` mode runs one cell pair string (candidate scoring).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from natsbench.resources import bundled_extcell
from natsbench.spaces import extcell
from search_algorithms.weight_sharing.spaces import SpaceAdapter

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["ExtCellAdapter"]


class ExtCellAdapter(SpaceAdapter):
    """The ``extcell`` space (module docstring)."""

    name = "extcell"
    nats_hp = None
    bundled = bundled_extcell(16)   # k = 16: the budget of a DARTS cell pair
    summary_columns = ("num_normal", "num_reduce", "num_unconnected")

    def net_settings(self, config: Any, net_config: dict[str, Any]) -> dict[str, Any]:
        kw = net_config.get("model_kwargs", {})
        options = net_config.get("space_options", {})
        C = config.C if config.C is not None else int(kw.get("C", 16))
        layers = config.N if config.N is not None else int(kw.get("layers", 8))
        k = getattr(config, "k", None)
        k = int(k) if k is not None else int(options.get("k", extcell.DEFAULT_K))
        return {"C": C, "layers": layers, "k": extcell.check_k(k)}

    def build_supernet(self, num_classes: int, settings: dict[str, Any]) -> "torch.nn.Module":
        from natsbench.models.darts_supernet import StrengthSupernet

        return StrengthSupernet(num_classes, **settings)

    def to_arch(self, derived: Any) -> str:
        return extcell.validate(derived)

    def sample(self, generator: "torch.Generator") -> str:
        """A uniform 16-ExtCell (k of the search is not known here; no algorithm of this space
        draws candidates)."""
        import torch

        slots = torch.randperm(extcell.NUM_SLOTS, generator=generator)[:extcell.DEFAULT_K]
        return extcell.to_str(extcell.from_slots(slots.sort().values.numpy()))

    def summary(self, arch: str) -> dict[str, int | float]:
        g = extcell.parse(arch)
        loose = extcell.unconnected_nodes(g)
        return {"num_normal": len(g.normal), "num_reduce": len(g.reduce),
                "num_unconnected": len(loose["normal"]) + len(loose["reduce"])}
