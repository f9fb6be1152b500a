"""keep_freed_memory: repeated large activations stop costing page faults (counted, not timed)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import resource, sys, torch
from macca_hub.utils.memory import keep_freed_memory
took = keep_freed_memory()
x = torch.ones(6, 11264, 64)  # a stacked critic's hidden layer at batch 1024 (17 MB)
for _ in range(3):
    (x * 2).sum()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    y = x * 2  # a fresh 17 MB block, freed at the next assignment
    z = y + 1
    del y, z
print(int(took), resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(switch: str) -> tuple[bool, int]:
    env = {**os.environ, "MACCA_HUB_KEEP_FREED_MEMORY": switch, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    took, faults = out.stdout.split()
    return took == "1", int(faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc only")
def test_keep_freed_memory_removes_the_page_faults_of_repeated_activations() -> None:
    took_off, faults_off = _faults("0")
    took_on, faults_on = _faults("1")
    assert not took_off and took_on
    # Default glibc: every 17 MB block is a fresh mmap, ~4,200 faults each (40 blocks). Kept: reused heap pages.
    assert faults_off > 40_000, faults_off
    assert faults_on < faults_off / 20, (faults_on, faults_off)
