"""Training an architecture a benchmark lacks, on demand, with the benchmark's own protocol.

The ``trained`` evaluation source of :mod:`natsbench.api.evaluation`: the protocol, image size,
model settings and seed come from the benchmark's manifest, and the record is written to the
user cache store (:func:`natsbench.api.evaluation.user_cache_store`), never into the
benchmark directory, so the next query of the architecture is a table hit.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from natsbench.api.evaluation import user_cache_store
from natsbench.errors import QueryError
from natsbench.store.records import normalize_hp

if TYPE_CHECKING:  # pragma: no cover
    from natsbench.api.bench import Bench
    from natsbench.store.records import RunRecord

log = logging.getLogger(__name__)


def recorded_protocol(bench: "Bench", hp: int | str) -> Any:
    """The :class:`~natsbench.train.protocol.Protocol` the benchmark was built with for ``hp``.

    Raises:
        QueryError: the manifest records no protocol, or one of another hp.
    """
    from natsbench.train.protocol import Protocol

    spec = (bench.manifest.provenance or {}).get("protocol")
    if not isinstance(spec, dict):
        raise QueryError(f"{bench.path}: the manifest records no training protocol "
                         f"(provenance.protocol), so 'train' cannot reproduce its runs; "
                         f"use on_missing 'surrogate' or 'error'")
    prot = Protocol(**spec)
    if normalize_hp(prot.hp) != normalize_hp(hp):
        raise QueryError(f"{bench.path}: the recorded protocol {prot.name!r} trains hp "
                         f"{prot.hp!r}, not {normalize_hp(hp)!r}; valid hp for training: "
                         f"{prot.hp!r}")
    return prot


def train_missing(bench: "Bench", arch: str, dataset: str, hp: int | str, *,
                  seed: int | None = None, device: str | None = None,
                  progress: bool = False) -> tuple["RunRecord", bool]:
    """A record of ``arch`` trained with the benchmark's own protocol: (record, was_cached).

    A finished record already in the user cache store is returned as is (``was_cached``
    True); otherwise the architecture is trained now (protocol, image size and model settings
    from the manifest, ``seed`` default: the group's first seed) and the record is written to
    :func:`user_cache_store` before it is returned.
    """
    from natsbench.datasets import load_dataset
    from natsbench.store.records import RunRecord, read_record, record_path
    from natsbench.train.trainer import train_arch

    hp = normalize_hp(hp)
    seeds = bench.seeds(dataset, hp)
    seed = int(seeds[0]) if seed is None else int(seed)
    store = user_cache_store(bench)
    path = record_path(store, bench.space, arch, dataset, hp, seed)
    if path.is_file():
        record = read_record(path)
        if record.status == "ok":
            return record, True
    prot = recorded_protocol(bench, hp)
    net_config = dict(bench.manifest.net_config or {})
    kwargs: dict[str, Any] = {}
    if net_config.get("image_size") and dataset == "digits":
        kwargs["image_size"] = int(net_config["image_size"])
    data = load_dataset(dataset, **kwargs)
    record: RunRecord = train_arch(bench.space, arch, data, prot, seed, device=device,
                                   store=store, progress=progress, num_threads=1,
                                   model_kwargs=dict(net_config.get("model_kwargs") or {}))
    log.info("trained %s on %s hp %s seed %d (%.1f s) -> %s", arch, dataset, hp, seed,
             record.provenance.get("wall_time", float("nan")), store)
    return record, False
