"""Frozen config dataclasses with typed ``--set key=value`` overrides.

Every app's config subclasses :class:`BaseConfig`. Overrides are parsed to the
field's annotated type (``int``, ``float``, ``bool``, ``str``, ``tuple[int,
...]``, ``Literal[...]`` choices, ``X | None``); an unknown key or a value of
the wrong type is a :class:`UsageError` that lists the valid keys or choices.
Validation of ranges lives in each config's ``validate`` and runs on every
construction, so a config object is always a legal one.
"""

import dataclasses
import json
import types
import typing

from dlsuite.apps.errors import UsageError

OPTIMIZERS = ("batch_gd", "sgd", "minibatch_gd", "momentum", "adagrad", "rmsprop", "adam")


@dataclasses.dataclass(frozen=True)
class BaseConfig:
    """Fields every app shares. ``batch_size`` is per replica."""

    seed: int = 1337
    epochs: int = 20
    batch_size: int = 32
    optimizer: typing.Literal[OPTIMIZERS] = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.9
    # Early stopping on the dev set: stop after this many epochs without
    # improvement and restore the best weights (0 turns it off).
    patience: int = 5
    # The user's own data (image folders, CSV files); empty = bundled data.
    data_dir: str = ""
    # Split ratios; None picks the default for the data set's size
    # (80/10/10 for small sets, 98/1/1 above a million examples).
    dev_fraction: float | None = None
    test_fraction: float | None = None
    jit_compile: bool = False
    steps_per_execution: int = 1
    # Satisficing metric: the exported model's batch-1 latency must stay
    # under this (0 = not checked).
    max_latency_ms: float = 0.0
    # Proxy for Bayes error in the bias/variance analysis (None = skip).
    human_error: float | None = None

    def __post_init__(self):
        try:
            self.validate()
        except ValueError as error:
            raise UsageError(str(error)) from None

    def validate(self):
        """Raise ``ValueError`` naming the field and the legal range."""
        require_positive(self, "epochs", "batch_size", "learning_rate", "steps_per_execution")
        require_non_negative(self, "patience", "max_latency_ms", "momentum")
        require_fraction(self, "dev_fraction", "test_fraction", "human_error")
        require_read(self, "momentum", self.reads("momentum"), "optimizer=momentum")
        if (self.dev_fraction or 0) + (self.test_fraction or 0) >= 1.0:
            raise ValueError(
                "dev_fraction + test_fraction must leave training data. Received: "
                f"dev_fraction={self.dev_fraction}, test_fraction={self.test_fraction}"
            )

    def reads(self, field):
        """Whether this config's optimizer(s) read the optimizer-specific
        ``field`` (only ``momentum`` today: SGD with momentum)."""
        return field == "momentum" and self.optimizer == "momentum"

    def to_dict(self):
        return dataclasses.asdict(self)


def field_default(config, name):
    """The default of field ``name`` in ``config``'s class (an app may change it)."""
    return type(config).__dataclass_fields__[name].default


def require_read(config, name, read, when):
    """``ValueError`` when field ``name`` differs from its default although
    nothing reads it (``read`` is False): a setting that is accepted and then
    ignored is refused, saying ``when`` it is read."""
    value = getattr(config, name)
    if not read and value != field_default(config, name):
        raise ValueError(
            f"{name}={value} is read only with {when}; {type(config).__name__} as configured "
            f"would ignore it. Set {when}, or leave {name} at its default "
            f"({field_default(config, name)})")


def require_positive(config, *names):
    """``ValueError`` unless every named field is > 0 (for ``validate``)."""
    for name in names:
        value = getattr(config, name)
        if not value > 0:
            raise ValueError(f"{name} must be > 0. Received: {name}={value}")


def require_non_negative(config, *names):
    """``ValueError`` unless every named field is >= 0 (for ``validate``)."""
    for name in names:
        value = getattr(config, name)
        if value < 0:
            raise ValueError(f"{name} must be >= 0. Received: {name}={value}")


def require_fraction(config, *names):
    """``ValueError`` unless every named field (None allowed) is in [0, 1)."""
    for name in names:
        value = getattr(config, name)
        if value is not None and not 0.0 <= value < 1.0:
            raise ValueError(f"{name} must be in [0, 1). Received: {name}={value}")


def _type_name(annotation):
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return "one of " + ", ".join(map(str, typing.get_args(annotation)))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin is tuple:
        return f"comma-separated {typing.get_args(annotation)[0].__name__}s"
    if annotation is type(None):
        return "none"
    return annotation.__name__


def parse_value(annotation, text):
    """Parse ``text`` to ``annotation``; raise ``ValueError`` if it does not fit."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        choices = typing.get_args(annotation)
        if text not in choices:
            raise ValueError
        return text
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(annotation):
            try:
                return parse_value(option, text)
            except ValueError:
                continue
        raise ValueError
    if origin is tuple:
        item_type = typing.get_args(annotation)[0]
        parts = [p for p in text.replace(" ", "").split(",") if p]
        return tuple(item_type(p) for p in parts)
    if annotation is type(None):
        if text.lower() in ("none", "null", ""):
            return None
        raise ValueError
    if annotation is bool:
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError
    if annotation is float:
        value = float(text)
        if value != value:  # NaN is never a legal setting.
            raise ValueError
        return value
    return annotation(text)


def apply_overrides(config, overrides):
    """Return a copy of ``config`` with ``["key=value", ...]`` applied."""
    hints = typing.get_type_hints(type(config))
    fields = {f.name for f in dataclasses.fields(config)}
    changes = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep:
            raise UsageError(f"--set expects key=value. Received: {item!r}")
        if key not in fields:
            raise UsageError(
                f"unknown config key {key!r} for {type(config).__name__}; "
                f"valid keys: {', '.join(sorted(fields))}"
            )
        try:
            changes[key] = parse_value(hints[key], text.strip())
        except (ValueError, TypeError):
            raise UsageError(
                f"bad value for {key}: {text!r}; expected {_type_name(hints[key])}"
            ) from None
    return dataclasses.replace(config, **changes)


def config_from_dict(config_class, values):
    """Rebuild a config saved by ``to_dict`` (JSON turns tuples into lists)."""
    hints = typing.get_type_hints(config_class)
    known = {f.name for f in dataclasses.fields(config_class)}
    unknown = set(values) - known
    if unknown:
        raise UsageError(
            f"saved config has keys {sorted(unknown)} that {config_class.__name__} "
            "does not know; was it written by another app or version?"
        )
    fixed = {}
    for key, value in values.items():
        if typing.get_origin(hints[key]) is tuple and isinstance(value, list):
            value = tuple(value)
        fixed[key] = value
    return config_class(**fixed)


def dumps(config):
    return json.dumps(config.to_dict(), indent=2, sort_keys=True)
