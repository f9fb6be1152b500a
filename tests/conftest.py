"""Shared fixtures: an isolated local root and tiny real datasets built once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
# Set before `datasets` is imported (it reads the variable once): tests never touch the user's cache.
os.environ["HF_DATASETS_CACHE"] = tempfile.mkdtemp(prefix="macca_hub_test_hf_cache_")


@pytest.fixture
def one_thread():
    """One torch thread for the test (restored after): the CPU is shared, and small updates are fastest and
    steadiest on one thread."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="session")
def hub_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh ``$MACCA_HUB_HOME`` for the whole session (never the user's cache)."""
    root = tmp_path_factory.mktemp("macca_hub_home")
    os.environ["MACCA_HUB_HOME"] = str(root)
    return root


def _build(task: str, transitions: int, seed: int = 0, quality: str = "random") -> Path:
    from dataset_builders.build import build_dataset
    from dataset_builders.policies import PolicySpec

    return build_dataset(task, quality, num_transitions=transitions, seed=seed, workers=1, progress=False,
                         policy=PolicySpec(kind="uniform"))


@pytest.fixture(scope="session")
def tiny_cn(hub_root: Path) -> Path:
    """``macca/mpe-cn-random`` with 40 uniform-random episodes (1,000 transitions), in the local root."""
    return _build("cn", 1000)


@pytest.fixture(scope="session")
def tiny_pp(hub_root: Path) -> Path:
    return _build("pp", 500)


@pytest.fixture(scope="session")
def tiny_world(hub_root: Path) -> Path:
    return _build("world", 500)
