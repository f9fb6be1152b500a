"""Whole columns of a local dataset as numpy arrays, read straight from its parquet shards.

Fixed-size list columns ([n_agents, obs_dim] ...) are flattened by Arrow and reshaped without
touching Python objects, which is orders of magnitude faster than formatting rows through
``datasets``; for a dataset that is only on the Hub we fall back to ``load_columns``.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from macca_hub.data.format import DATA_DIR, DEFAULT_CONFIG, INDIVIDUAL_CONFIG, INDIVIDUAL_DIR, check_schema, read_meta
from macca_hub.data.loading import load_columns, resolve_dataset_dir


def arrow_to_numpy(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A (nested) fixed-size-list Arrow column as one numpy array of shape [rows, *dims]."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    shape = [len(arr)]
    while pa.types.is_fixed_size_list(arr.type):
        shape.append(arr.type.list_size)
        arr = arr.flatten()  # honours slice offsets
    out = arr.to_numpy(zero_copy_only=False).reshape(shape)
    return out if out.flags.writeable else out.copy()  # torch wants writable memory


def read_columns(name_or_path: str | os.PathLike, columns: Sequence[str],
                 config: str = DEFAULT_CONFIG) -> dict[str, np.ndarray]:
    """Columns of the ``default`` or ``individual_rewards`` config, rows in shard order."""
    folder = resolve_dataset_dir(name_or_path)
    if folder is None:
        return load_columns(name_or_path, columns, config=config)
    info, _ = read_meta(folder)
    check_schema(folder, info)
    sub = {DEFAULT_CONFIG: DATA_DIR, INDIVIDUAL_CONFIG: INDIVIDUAL_DIR}[config]
    shards = sorted((folder / sub).glob("*.parquet"))
    if not shards:
        raise FileNotFoundError(f"{folder / sub} holds no parquet shards; the {config!r} config is missing "
                                "(published datasets omit individual_rewards: evaluate on a local build).")
    names = pq.read_schema(shards[0]).names
    missing = [c for c in columns if c not in names]
    if missing:
        raise KeyError(f"Columns {missing} are not in {folder / sub}; it has {names}.")
    table = pa.concat_tables([pq.read_table(s, columns=list(columns)) for s in shards])
    return {c: arrow_to_numpy(table.column(c)) for c in columns}
