"""Adam as one fused kernel where this torch build has it (CPU since torch 2.4, CUDA), else the foreach one.

Same update rule either way; the fused step reads and writes each parameter, gradient and moment once,
which on a CPU takes a third of the foreach step's time (0.31 vs 0.83 ms for the causal reward model's
246k parameters, 0.09 vs 0.26 ms for a stacked critic).
"""

from __future__ import annotations

from typing import Iterable

import torch


def adam(params: Iterable[torch.nn.Parameter], lr: float) -> torch.optim.Adam:
    """``torch.optim.Adam(params, lr)``, fused when supported."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):  # older torch, or a device without a fused kernel
        return torch.optim.Adam(params, lr=lr)
