"""Training protocols: the NATS-Bench settings H0/H1/H2 and user-defined reduced proxies.

Table 5.2 and section 5.2.3 of Dong's thesis (the NATS-Bench chapter) define H0: SGD with
Nesterov momentum 0.9, cross-entropy loss (no label smoothing), weight decay 5e-4, batch
size 256, learning rate decayed from 0.1 to 0 by cosine annealing, random horizontal flip
(p = 0.5) and random crop with zero padding (4 pixels per border on CIFAR, 2 on
ImageNet16-120), per-channel normalisation, 12 epochs. H1 and H2 are identical except
for 200 and 90 epochs. tss has results for H0 and H1 (hp ``12``, ``200``), sss for H0
and H2 (hp ``12``, ``90``).

Learning-rate schedule: the official code (xautodl ``CosineAnnealingLR`` as driven by
``evaluate_for_seed``) sets the rate once per epoch, ``lr_e = lr_min + (lr - lr_min) *
(1 + cos(pi * e / epochs)) / 2`` for epoch ``e = 0 .. epochs-1``, so the last epoch
trains at a small positive rate and 0 is reached at the (never run) epoch ``epochs``.
``lr_step="epoch"`` (the default) reproduces that; ``lr_step="iteration"`` applies the same
formula at every step with a fractional epoch, for smoother proxies.

Reduced proxies: ``H0.reduced(epochs=2, batch_size=64, train_fraction=0.1)`` or the string
form ``get_protocol("H0:epochs=2,batch_size=64,train_fraction=0.1")``. A proxy gets its own
``hp`` tag (``H0-e2-b64-t0.1``) so its records never mix with the official settings.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from natsbench.errors import QueryError
from natsbench.store.records import normalize_hp

__all__ = ["Protocol", "H0", "H1", "H2", "PRESETS", "HP_TO_PRESET", "get_protocol",
           "protocol_for_hp"]

_ABBREVIATIONS = {"epochs": "e", "batch_size": "b", "train_fraction": "t", "lr": "lr",
                  "weight_decay": "wd", "label_smoothing": "ls", "eval_batch_size": "eb",
                  "lr_step": "step", "crop_padding": "pad", "flip_prob": "flip",
                  "momentum": "m", "nesterov": "nest", "lr_min": "lrmin"}


@dataclass(frozen=True)
class Protocol:
    """One training setting. All fields are plain values (hashable, JSON-able).

    Attributes:
        name: ``H0``/``H1``/``H2`` or the name of a proxy.
        hp: the training-length tag records are filed under (``"12"``, ``"200"``, ``"90"``
            for the presets; a descriptive tag for proxies).
        epochs: training epochs.
        batch_size: training mini-batch size (images).
        lr: initial learning rate; lr_min: the value cosine annealing decays towards.
        lr_step: ``"epoch"`` (official) or ``"iteration"``: how often the rate is updated.
        momentum, nesterov, weight_decay: SGD settings (weight decay on every parameter,
            as in the official code).
        label_smoothing: cross-entropy label smoothing (0: none, as in the thesis).
        flip_prob: probability of a horizontal flip.
        crop_padding: zero padding of the random crop (pixels per border); ``None`` uses
            the dataset's own (4 on CIFAR, 2 on 16x16 images); 0 disables cropping.
        train_fraction: fraction of the training set used (stratified, fixed per run seed);
            1.0 for the presets.
        eval_batch_size: batch size for evaluation passes.
    """

    name: str
    hp: str
    epochs: int
    batch_size: int = 256
    lr: float = 0.1
    lr_min: float = 0.0
    lr_step: str = "epoch"
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    label_smoothing: float = 0.0
    flip_prob: float = 0.5
    crop_padding: int | None = None
    train_fraction: float = 1.0
    eval_batch_size: int = 512

    def __post_init__(self) -> None:
        problems = []
        if not isinstance(self.epochs, int) or self.epochs < 1:
            problems.append(f"epochs must be an int >= 1, got {self.epochs!r}")
        for key in ("batch_size", "eval_batch_size"):
            value = getattr(self, key)
            if not isinstance(value, int) or value < 1:
                problems.append(f"{key} must be an int >= 1, got {value!r}")
        if not self.lr > 0 or not 0 <= self.lr_min <= self.lr:
            problems.append(f"need lr > 0 and 0 <= lr_min <= lr, got lr={self.lr}, lr_min={self.lr_min}")
        if self.lr_step not in ("epoch", "iteration"):
            problems.append(f"lr_step must be 'epoch' or 'iteration', got {self.lr_step!r}")
        if not 0 <= self.momentum < 1 or self.weight_decay < 0:
            problems.append("need 0 <= momentum < 1 and weight_decay >= 0")
        if not 0 <= self.label_smoothing < 1 or not 0 <= self.flip_prob <= 1:
            problems.append("need 0 <= label_smoothing < 1 and 0 <= flip_prob <= 1")
        if self.crop_padding is not None and (not isinstance(self.crop_padding, int)
                                              or self.crop_padding < 0):
            problems.append(f"crop_padding must be None or an int >= 0, got {self.crop_padding!r}")
        if not 0 < self.train_fraction <= 1:
            problems.append(f"train_fraction must be in (0, 1], got {self.train_fraction}")
        if not self.hp or "/" in self.hp or self.hp in (".", ".."):
            problems.append(f"hp must be a non-empty tag without '/', got {self.hp!r}")
        if problems:
            raise QueryError(f"invalid protocol {self.name!r}: " + "; ".join(problems))

    def lr_at(self, epoch: float) -> float:
        """Learning rate at (possibly fractional) ``epoch`` in ``[0, epochs)``."""
        return self.lr_min + (self.lr - self.lr_min) * (1 + math.cos(math.pi * epoch / self.epochs)) / 2

    def reduced(self, *, name: str | None = None, hp: str | None = None,
                **changes: Any) -> "Protocol":
        """A proxy of this protocol with some fields changed.

        Args:
            name, hp: default to ``<name>-<changes>`` e.g. ``H0-e2-b64``.
            **changes: any other field, e.g. ``epochs=2, batch_size=64, train_fraction=0.1``.

        Raises:
            QueryError (a ValueError): unknown field or invalid value (names the valid fields).
        """
        valid = {f.name for f in dataclasses.fields(self)} - {"name", "hp"}
        unknown = set(changes) - valid
        if unknown:
            raise QueryError(f"unknown protocol field(s) {sorted(unknown)}; valid: {sorted(valid)}")
        changed = {k: v for k, v in changes.items() if getattr(self, k) != v}
        tag = "-".join([self.name] + [f"{_ABBREVIATIONS.get(k, k)}{_fmt(v)}"
                                      for k, v in sorted(changed.items())])
        if not changed and name is None and hp is None:
            return self
        return dataclasses.replace(self, name=name or tag,
                                   hp=hp or (tag if changed else self.hp), **changes)

    def to_dict(self) -> dict[str, Any]:
        """All fields as a plain dict (recorded in run provenance)."""
        return dataclasses.asdict(self)


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


H0 = Protocol(name="H0", hp="12", epochs=12)
H1 = Protocol(name="H1", hp="200", epochs=200)
H2 = Protocol(name="H2", hp="90", epochs=90)
PRESETS: dict[str, Protocol] = {p.name: p for p in (H0, H1, H2)}
#: hp tag of the official tables -> preset
HP_TO_PRESET: dict[str, Protocol] = {p.hp: p for p in (H0, H1, H2)}


def _parse_value(field: dataclasses.Field, text: str) -> Any:
    kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "")
    text = text.strip()
    if "bool" in kind:
        if text.lower() in ("1", "true", "yes"):
            return True
        if text.lower() in ("0", "false", "no"):
            return False
        raise QueryError(f"{field.name} expects true/false, got {text!r}")
    if text.lower() == "none" and "None" in kind:
        return None
    if kind.startswith("int"):
        return int(text)
    if kind.startswith("float"):
        return float(text)
    return text


def protocol_for_hp(hp: int | str) -> Protocol:
    """The preset trained for the official hp tag (``12`` -> H0, ``200`` -> H1, ``90`` -> H2)."""
    try:
        return HP_TO_PRESET[normalize_hp(hp)]
    except (KeyError, ValueError):
        raise QueryError(f"no protocol for hp {hp!r}; valid: {sorted(HP_TO_PRESET, key=int)}") from None


def get_protocol(name: str | Protocol) -> Protocol:
    """A protocol by name: ``H0``/``H1``/``H2`` (case-insensitive), an hp tag ``12``/``200``/``90``,
    or a proxy spec ``"<preset>:field=value,field=value"`` (e.g. ``"H0:epochs=2,batch_size=64"``;
    ``name=``/``hp=`` set the proxy's tags).

    Raises:
        QueryError (a ValueError): unknown preset or field, or an invalid value (lists the valid ones).
    """
    if isinstance(name, Protocol):
        return name
    text = str(name).strip()
    base_text, _, overrides = text.partition(":")
    base_key = base_text.strip()
    preset = PRESETS.get(base_key.upper())
    if preset is None:
        try:
            preset = protocol_for_hp(base_key)
        except ValueError:
            raise QueryError(f"unknown protocol {base_key!r}; valid: {list(PRESETS)}, hp tags "
                             f"{list(HP_TO_PRESET)}, or '<preset>:field=value,...'") from None
    if not overrides.strip():
        return preset
    fields = {f.name: f for f in dataclasses.fields(Protocol)}
    changes: dict[str, Any] = {}
    for item in overrides.split(","):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in fields:
            raise QueryError(f"bad protocol override {item.strip()!r} in {text!r}; expected "
                             f"field=value with field in {sorted(fields)}")
        changes[key] = _parse_value(fields[key], value)
    return preset.reduced(**changes)
