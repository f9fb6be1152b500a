"""The dataset format: one row per team time step, fixed-shape per-agent arrays, two configs.

``default`` holds what an offline learner may see (observations, actions, state, team reward,
next step, flags). ``individual_rewards`` holds the hidden per-agent rewards, keyed by
``(episode_index, step)``, for evaluating credit assignment only.

Folder layout (a Hub dataset repo)::

    README.md                       dataset card with the ``configs:`` block
    data/train-00000-of-00004.parquet
    individual_rewards/train-00000-of-00004.parquet
    meta/info.json                  task, shapes, versions, behaviour policy, seed, sizes, scores
    meta/stats.json                 per-feature mean/std/min/max, return statistics
    meta/returns.png                return histogram
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from datasets import Features, List, Value

from macca_hub.utils.io import read_json

FORMAT_VERSION = "1.0.0"
DEFAULT_CONFIG = "default"
INDIVIDUAL_CONFIG = "individual_rewards"
DATA_DIR = "data"
INDIVIDUAL_DIR = "individual_rewards"
QUALITIES = ("expert", "medium", "medium-replay", "random")
DATASET_ORG = "macca"

#: Columns of the default config, in order; per-agent arrays have a leading agent axis.
DEFAULT_COLUMNS = ("episode_index", "step", "observations", "actions", "state", "team_reward",
                   "next_observations", "next_state", "terminated", "truncated")


class DatasetFormatError(ValueError):
    """A folder that is not a valid macca_hub dataset (missing metadata, schema mismatch...)."""


def dataset_repo_id(task: str, quality: str) -> str:
    """Canonical repo id, e.g. ``macca/mpe-cn-expert``."""
    return f"{DATASET_ORG}/mpe-{task}-{quality}"


def _array(shape: tuple[int, ...], dtype: str) -> Any:
    feature: Any = Value(dtype)
    for n in reversed(shape):
        feature = List(feature, length=int(n))
    return feature


def default_features(n_agents: int, obs_dim: int, act_dim: int, state_dim: int,
                     action_type: str = "continuous") -> Features:
    actions = _array((n_agents, act_dim), "float32") if action_type == "continuous" else _array((n_agents,), "int64")
    return Features({
        "episode_index": Value("int64"),
        "step": Value("int32"),
        "observations": _array((n_agents, obs_dim), "float32"),
        "actions": actions,
        "state": _array((state_dim,), "float32"),
        "team_reward": Value("float32"),
        "next_observations": _array((n_agents, obs_dim), "float32"),
        "next_state": _array((state_dim,), "float32"),
        "terminated": Value("bool"),
        "truncated": Value("bool"),
    })


def individual_features(n_agents: int) -> Features:
    return Features({
        "episode_index": Value("int64"),
        "step": Value("int32"),
        "individual_rewards": _array((n_agents,), "float32"),
    })


def features_from_info(info: dict[str, Any]) -> Features:
    return default_features(info["n_agents"], info["obs_dim"], info["act_dim"], info["state_dim"],
                            info.get("action_type", "continuous"))


def to_arrow(columns: dict[str, np.ndarray], features: Features) -> pa.Table:
    """Build an Arrow table from numpy columns without a Python loop over rows.

    Fixed-shape arrays become nested fixed-size lists, and the features are stored in the schema
    metadata so ``datasets`` reads them back exactly.
    """
    schema = features.arrow_schema
    arrays = []
    for field in schema:
        values = np.ascontiguousarray(columns[field.name])
        arrays.append(_to_arrow_array(values, field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _to_arrow_array(values: np.ndarray, typ: pa.DataType) -> pa.Array:
    if pa.types.is_fixed_size_list(typ):
        n = typ.list_size
        if values.ndim < 2 or values.shape[1] != n:
            raise DatasetFormatError(f"expected an array with axis 1 of size {n}, got shape {values.shape}")
        inner = values.reshape((values.shape[0] * n,) + values.shape[2:])
        return pa.FixedSizeListArray.from_arrays(_to_arrow_array(inner, typ.value_type), n)
    return pa.array(values, type=typ)


def read_meta(folder: str | os.PathLike) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read ``meta/info.json`` and ``meta/stats.json`` of a dataset folder, with clear errors."""
    folder = Path(folder)
    info_path = folder / "meta" / "info.json"
    if not info_path.is_file():
        raise DatasetFormatError(
            f"{folder} is not a macca_hub dataset: meta/info.json is missing. Build one with "
            "`macca-hub build <task> --quality <quality> --output <folder>`."
        )
    info = read_json(info_path)
    stats_path = folder / "meta" / "stats.json"
    stats = read_json(stats_path) if stats_path.is_file() else {}
    return info, stats


def check_schema(folder: str | os.PathLike, info: dict[str, Any]) -> None:
    """Compare the parquet schema of the default config with the shapes in ``info.json``."""
    import pyarrow.parquet as pq

    folder = Path(folder)
    shards = sorted((folder / DATA_DIR).glob("*.parquet"))
    if not shards:
        raise DatasetFormatError(f"{folder / DATA_DIR} holds no parquet shards; the dataset is incomplete, rebuild it.")
    expected = features_from_info(info)
    actual = pq.read_schema(shards[0])
    for name, feature in expected.items():
        if name not in actual.names:
            raise DatasetFormatError(f"{shards[0]} lacks column {name!r} that meta/info.json requires; rebuild the dataset.")
        want = Features({name: feature}).arrow_schema.field(name).type
        got = actual.field(name).type
        if want != got:
            raise DatasetFormatError(
                f"Column {name!r} of {shards[0]} has type {got}, but meta/info.json "
                f"(n_agents={info['n_agents']}, obs_dim={info['obs_dim']}, act_dim={info['act_dim']}, "
                f"state_dim={info['state_dim']}) implies {want}; the data and its metadata disagree, rebuild the dataset."
            )
