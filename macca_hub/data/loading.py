"""Find and load datasets: a folder, the local root, then the Hub."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pyarrow as pa

from macca_hub.data.format import (
    DATA_DIR,
    DEFAULT_CONFIG,
    INDIVIDUAL_CONFIG,
    INDIVIDUAL_DIR,
    DatasetFormatError,
    check_schema,
    read_meta,
)
from macca_hub.hub import REPO_ID_PATTERN, hub_home, local_repo_path

_CANONICAL = re.compile(r"^macca/mpe-(?P<task>[a-z0-9]+)-(?P<quality>.+)$")


def build_hint(name: str) -> str:
    """The exact command that builds a canonical dataset (or a generic hint)."""
    m = _CANONICAL.match(name)
    if m:
        return f"macca-hub build {m['task']} --quality {m['quality']}"
    return "macca-hub build <task> --quality <quality> --output <folder>"


def resolve_dataset_dir(name_or_path: str | os.PathLike) -> Path | None:
    """A local folder for ``name_or_path`` (a path, or a repo id under the local root), else ``None``."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    name = str(name_or_path)
    if REPO_ID_PATTERN.match(name):
        local = local_repo_path(name, "dataset")
        if local.is_dir():
            return local
    return None


def _check_config(config: str) -> None:
    if config not in (DEFAULT_CONFIG, INDIVIDUAL_CONFIG):
        raise ValueError(f"Unknown config {config!r}; choose {DEFAULT_CONFIG!r} or {INDIVIDUAL_CONFIG!r}.")


def local_shards(folder: Path, config: str = DEFAULT_CONFIG) -> list[Path]:
    """The parquet shards of ``config`` in a local dataset folder, after checking its metadata and schema."""
    _check_config(config)
    info, _ = read_meta(folder)
    check_schema(folder, info)
    sub = DATA_DIR if config == DEFAULT_CONFIG else INDIVIDUAL_DIR
    shards = sorted((folder / sub).glob("*.parquet"))
    if not shards:
        raise DatasetFormatError(
            f"{folder / sub} holds no parquet shards: the {config!r} config is missing (a dataset published without "
            "the hidden individual_rewards config); evaluate credit assignment on a locally built copy instead."
        )
    return shards


def load_dataset(name_or_path: str | os.PathLike, config: str = DEFAULT_CONFIG, split: str | None = "train",
                 revision: str | None = None, **kwargs: Any):
    """Load a macca_hub dataset as a ``datasets.Dataset``.

    ``name_or_path`` is a dataset folder or a repo id such as ``macca/mpe-cn-expert``: the local
    root (``$MACCA_HUB_HOME``) is tried first, then the Hub through ``datasets``. ``config`` is
    ``"default"`` or ``"individual_rewards"`` (hidden per-agent rewards, for evaluation only).
    """
    import datasets

    _check_config(config)
    folder = resolve_dataset_dir(name_or_path)
    if folder is not None:
        # Explicit files rather than the card's `configs:` patterns: the `datasets` cache key then
        # includes each file's mtime, so a rebuilt folder is never served from a stale cache.
        files = [str(p) for p in local_shards(folder, config)]
        return datasets.load_dataset("parquet", data_files={"train": files}, split=split, **kwargs)
    name = str(name_or_path)
    if not REPO_ID_PATTERN.match(name):
        raise FileNotFoundError(f"No dataset folder at {name_or_path} (and it is not a repo id like 'macca/mpe-cn-expert').")
    try:
        return datasets.load_dataset(name, config, split=split, revision=revision, **kwargs)
    except Exception as err:
        raise FileNotFoundError(
            f"Dataset {name!r} is not under the local root {hub_home() / 'datasets'} and could not be loaded from "
            f"the Hub ({type(err).__name__}). Build it locally with `{build_hint(name)}`, or point HF_ENDPOINT "
            "at a mirror (`macca-hub serve`)."
        ) from err


def dataset_meta(name_or_path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, Any]]:
    """``meta/info.json`` and ``meta/stats.json`` of a local dataset (or one cached from the Hub)."""
    folder = resolve_dataset_dir(name_or_path)
    if folder is None:
        from huggingface_hub import snapshot_download

        name = str(name_or_path)
        try:
            folder = Path(snapshot_download(name, repo_type="dataset", allow_patterns=["meta/*.json", "README.md"]))
        except Exception as err:
            raise FileNotFoundError(f"Dataset {name!r} not found locally or on the Hub; build it with `{build_hint(name)}`.") from err
    return read_meta(folder)


def arrow_to_numpy(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A (nested) fixed-size-list Arrow column as one numpy array of shape [rows, *dims], no Python objects."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    shape = [len(arr)]
    while pa.types.is_fixed_size_list(arr.type):
        shape.append(arr.type.list_size)
        arr = arr.flatten()  # honours slice offsets
    out = arr.to_numpy(zero_copy_only=False).reshape(shape)
    return out if out.flags.writeable else out.copy()  # torch wants writable memory


def load_columns(name_or_path: str | os.PathLike, columns: Sequence[str] | None = None,
                 config: str = DEFAULT_CONFIG) -> dict[str, np.ndarray]:
    """Whole columns as numpy arrays, rows in episode order.

    Training loops call this once and sample indices from the arrays instead of indexing a
    ``datasets.Dataset`` row by row. A local folder is read straight from its parquet shards; a Hub
    dataset goes through ``load_dataset`` and its Arrow table. Either way fixed-shape columns are
    flattened by Arrow and reshaped, never converted row by row.
    """
    import pyarrow.parquet as pq

    folder = resolve_dataset_dir(name_or_path)
    if folder is None:
        table = load_dataset(name_or_path, config=config).with_format("arrow")[:]
    else:
        shards = local_shards(folder, config)
        names = pq.read_schema(shards[0]).names
        wanted = list(columns) if columns is not None else names
        missing = [c for c in wanted if c not in names]
        if missing:
            raise KeyError(f"Columns {missing} are not in this dataset; it has {names}.")
        table = pa.concat_tables([pq.read_table(s, columns=wanted) for s in shards])
    columns = list(columns) if columns is not None else list(table.column_names)
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise KeyError(f"Columns {missing} are not in this dataset; it has {table.column_names}.")
    return {c: arrow_to_numpy(table.column(c)) for c in columns}
