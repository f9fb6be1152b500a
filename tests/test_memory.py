"""keep_freed_memory: large blocks come from the heap and stay there after free (glibc's own counters)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# A fresh interpreter without torch, so glibc's thresholds are still at their start values (no earlier large
# free has raised them): a 17 MB block (a stacked critic's hidden layer at batch 1024) is then an mmap by default.
PROBE = """
import ctypes, importlib.util, sys
spec = importlib.util.spec_from_file_location("memory", sys.argv[1])  # the module alone: no package, no torch
memory = importlib.util.module_from_spec(spec)
spec.loader.exec_module(memory)
keep_freed_memory = memory.keep_freed_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
took = keep_freed_memory()
size = int(sys.argv[2])
base = libc.mallinfo2().hblkhd
block = libc.malloc(size)
ctypes.memset(block, 1, size)
mapped = libc.mallinfo2().hblkhd - base
libc.free(block)
print(int(took), mapped, libc.mallinfo2().fordblks)
"""


#: A stacked critic's hidden layer at batch 1024 (6 members x 11,264 rows x 64 floats).
SIZE = 6 * 11264 * 64 * 4


def _probe(switch: str) -> tuple[bool, int, int]:
    env = {**os.environ, "MACCA_HUB_KEEP_FREED_MEMORY": switch}
    import macca_hub.utils.memory as memory

    out = subprocess.run([sys.executable, "-c", PROBE, memory.__file__, str(SIZE)], env=env, capture_output=True, text=True,
                         check=True)
    took, mapped, free_in_heap = out.stdout.split()
    return took == "1", int(mapped), int(free_in_heap)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc only")
def test_keep_freed_memory_serves_large_blocks_from_the_kept_heap() -> None:
    size = SIZE
    took_off, mapped_off, free_off = _probe("0")
    took_on, mapped_on, free_on = _probe("1")
    assert not took_off and took_on
    # Default glibc: the block is a fresh mmap, handed back to the kernel on free (every round faults it in again).
    assert mapped_off >= size and free_off < size, (mapped_off, free_off)
    # Kept: it comes from the heap, and after free it stays there for the next round (no page faults).
    assert mapped_on == 0 and free_on >= size, (mapped_on, free_on)
