"""Offline MARL backbones (continuous actions) behind a registry: ``name -> (algorithm class, config class)``.

    from macca_hub.algos import make_algorithm
    algo = make_algorithm("omar", n_agents=3, obs_dim=18, act_dim=2, task="cn", quality="expert")
    logs = algo.update(batch)      # one round: every agent's critics and actor, batched over agents

Adding an algorithm = one module with an ``OfflineAlgorithm`` subclass + one line in ``ALGORITHMS``.
"""

from __future__ import annotations

from typing import Any

from macca_hub.algos.base import PUBLISHED_SETTINGS, AlgoConfig, Batch, OfflineAlgorithm
from macca_hub.algos.icql import ICQL, ICQLConfig
from macca_hub.algos.maicq import MAICQ, MAICQConfig
from macca_hub.algos.omar import OMAR, OMARConfig

ALGORITHMS: dict[str, type[OfflineAlgorithm]] = {"icql": ICQL, "omar": OMAR, "maicq": MAICQ}


def algorithm_class(name: str) -> type[OfflineAlgorithm]:
    if name not in ALGORITHMS:
        raise ValueError(f"Unknown algorithm {name!r}; choose one of {sorted(ALGORITHMS)}.")
    return ALGORITHMS[name]


def make_config(name: str, task: str | None = None, quality: str | None = None, **overrides: Any) -> AlgoConfig:
    """The algorithm's config with ``overrides``; unset per-dataset values come from the published table."""
    cls = algorithm_class(name).config_class
    names = {f for f in cls.__dataclass_fields__}
    unknown = set(overrides) - names
    if unknown:
        raise ValueError(f"{name} has no setting(s) {sorted(unknown)}; valid settings are {sorted(names)}.")
    config = cls(**overrides)
    return config.resolve(task, quality) if task and quality else config


def make_algorithm(name: str, n_agents: int, obs_dim: int, act_dim: int, task: str | None = None,
                   quality: str | None = None, **overrides: Any) -> OfflineAlgorithm:
    config = make_config(name, task, quality, **overrides)
    return algorithm_class(name)(config, n_agents, obs_dim, act_dim)


__all__ = ["ALGORITHMS", "AlgoConfig", "Batch", "ICQL", "ICQLConfig", "MAICQ", "MAICQConfig", "OMAR", "OMARConfig",
           "OfflineAlgorithm", "PUBLISHED_SETTINGS", "algorithm_class", "make_algorithm", "make_config"]
