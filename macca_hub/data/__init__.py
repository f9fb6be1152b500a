"""The offline dataset format (Hub layout), its writer and its loader."""

from macca_hub.data.format import (
    DEFAULT_CONFIG,
    INDIVIDUAL_CONFIG,
    QUALITIES,
    DatasetFormatError,
    dataset_repo_id,
    default_features,
    individual_features,
    read_meta,
)
from macca_hub.data.loading import load_columns, load_dataset, resolve_dataset_dir

__all__ = [
    "DEFAULT_CONFIG", "INDIVIDUAL_CONFIG", "QUALITIES", "DatasetFormatError", "dataset_repo_id",
    "default_features", "individual_features", "load_columns", "load_dataset", "read_meta", "resolve_dataset_dir",
]
