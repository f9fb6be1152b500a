"""Module-level lazy exports: heavy classes load on first use so ``import macca_hub`` stays light."""

from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_exports(package: str, mapping: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``mapping[name]`` and returns its attribute ``name``."""

    def __getattr__(name: str) -> Any:
        if name in mapping:
            return getattr(importlib.import_module(mapping[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
