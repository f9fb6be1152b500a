"""Typed config dataclasses that double as command-line interfaces.

Each config field carries its help text in ``field(metadata={"help": ...})``; the CLI is generated
from it, so ``--help`` and the Python API can never drift apart.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def cfg(default: Any = dataclasses.MISSING, help: str = "", choices: list | None = None, **kw: Any) -> Any:
    """A dataclass field with a help string (and optional choices) for the generated CLI."""
    meta = {"help": help}
    if choices is not None:
        meta["choices"] = list(choices)
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda d=default: type(d)(d), metadata=meta, **kw)
    return dataclasses.field(default=default, metadata=meta, **kw)


def _base_type(tp: Any) -> tuple[Any, bool]:
    """Strip Optional[...] and return (inner type, is_optional)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()) -> None:
    """Add one ``--option`` per field of the dataclass ``cls`` (underscores become dashes)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.init:
            continue
        tp, _ = _base_type(hints[f.name])
        flag = "--" + f.name.replace("_", "-")
        helptext = f.metadata.get("help", "")
        default = None
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING  # type: ignore[misc]
        kwargs: dict[str, Any] = {"dest": f.name, "help": f"{helptext} (default: {default})" if not required else helptext}
        if "choices" in f.metadata:
            kwargs["choices"] = f.metadata["choices"]
        if tp is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, **kwargs)
            continue
        origin = typing.get_origin(tp)
        if origin in (list, tuple):
            (inner,) = set(typing.get_args(tp)) - {Ellipsis} or {str}
            kwargs.update(nargs="+", type=inner)
        elif origin is dict or tp is dict:
            kwargs.update(type=json.loads)
        elif tp in (int, float, str):
            kwargs.update(type=tp)
        else:
            kwargs.update(type=str)
        parser.add_argument(flag, default=default, required=required, **kwargs)


def dataclass_from_args(cls: type[T], args: argparse.Namespace, **overrides: Any) -> T:
    """Build ``cls`` from parsed arguments (fields absent from ``args`` keep their defaults)."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if f.init and hasattr(args, f.name)}
    values.update(overrides)
    return cls(**values)


def config_to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def config_from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a config, refusing unknown keys with a message that lists the valid ones."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"Unknown {cls.__name__} field(s) {sorted(unknown)}; valid fields are {sorted(names)}.")
    hints = typing.get_type_hints(cls)
    fixed = {}
    for k, v in data.items():
        tp, _ = _base_type(hints[k])
        fixed[k] = tuple(v) if typing.get_origin(tp) is tuple and isinstance(v, list) else v
    return cls(**fixed)
