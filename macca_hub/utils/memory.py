"""Keep freed heap memory in the process, so training rounds stop paying page faults for their activations.

glibc's malloc serves every block above its mmap threshold (128 KiB, rising only as blocks are freed)
with a fresh ``mmap`` and hands it back to the kernel on ``free``; it also trims the heap top once more
than twice that threshold lies free there. A training round allocates and frees the same large
activations every time (a stacked critic's hidden layer at batch 1024 is 6 x 11,264 x 64 floats, 17 MB),
so each round touches freshly mapped pages and the kernel zeroes them one 4 KiB page fault at a time.
On a 2-core machine that was about half of an I-CQL round (about 4,000 faults and 13 ms of system time per
round; ``benchmarks/update_speed.py`` measures it).

``keep_freed_memory()`` raises both thresholds once, so those blocks come from the heap and go back to
it. The process's resident memory then stays at its peak instead of shrinking between rounds, which a
training process wants anyway. Only entry points that own their process call it (the ``macca-hub``
command, ``train_policy``, ``train_reward_model``); a library import never changes the allocator. Call it
yourself before a long loop of your own (``ds.map(model.relabel, ...)`` over a large dataset, say).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys

#: ``mallopt`` parameter numbers from glibc's malloc.h.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: glibc refuses an mmap threshold above HEAP_MAX_SIZE / 2 (32 MiB on 64-bit); blocks above it still use mmap.
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024
#: Free memory at the heap top that is never trimmed below this (1 GiB).
TRIM_THRESHOLD = 1024 * 1024 * 1024

ENV_SWITCH = "MACCA_HUB_KEEP_FREED_MEMORY"


@functools.lru_cache(maxsize=None)
def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; ``True`` when both took effect.

    A no-op returning ``False`` off Linux/glibc (musl, macOS, Windows) or with the environment variable
    ``MACCA_HUB_KEEP_FREED_MEMORY=0``. Calling it again does nothing more.
    """
    if os.environ.get(ENV_SWITCH, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
