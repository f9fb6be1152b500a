"""The hardware yardstick shared by the benchmarks: a plain fp32 matmul's FLOP/s, measured in the same run."""

from __future__ import annotations

import time

import torch


def matmul_flops(threads: int, size: tuple[int, int, int] = (4096, 256, 256), seconds: float = 2.0) -> float:
    """FLOP/s of a plain fp32 [M,K]@[K,N] matmul (best of repeated windows) with ``threads`` torch threads."""
    torch.set_num_threads(threads)
    m, k, n = size
    a, b = torch.randn(m, k), torch.randn(k, n)
    out = torch.empty(m, n)
    for _ in range(3):
        torch.mm(a, b, out=out)
    best = 0.0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        for _ in range(10):
            torch.mm(a, b, out=out)
        best = max(best, 10 * 2 * m * k * n / (time.perf_counter() - t))
    return best
