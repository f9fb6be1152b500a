"""The compute dtype under autocast, and a ReLU that runs faster on bfloat16 than ``relu``, bit for bit the same.

CPU kernels widen bfloat16 to float32 for every elementwise op, so under bf16 autocast a ReLU costs about
as much as the matmul before it. bfloat16 is sign-magnitude: viewed as int16, every negative value is
negative and every positive one positive, so ``clamp_min(0)`` on that view zeroes exactly the negatives,
bit for bit what ``relu`` gives, and integer kernels need no widening (~5x faster on the critics'
activations). Used by the stacked critics.
"""

from __future__ import annotations

import torch
from torch import Tensor


def compute_dtype(weight: Tensor) -> torch.dtype:
    """The dtype matmuls with ``weight`` run in: autocast's lower precision where it is on for ``weight``'s
    device and would cast it (float32 weights), else ``weight``'s own dtype (a float64 model stays float64)."""
    if weight.dtype == torch.float32 and torch.is_autocast_enabled(weight.device.type):
        return torch.get_autocast_dtype(weight.device.type)
    return weight.dtype


def relu_(h: Tensor) -> Tensor:
    """In-place ReLU without autograd; on bfloat16 the int16 clamp of the same bits."""
    if h.dtype == torch.bfloat16:
        h.view(torch.int16).clamp_min_(0)
        return h
    return h.relu_()


class _ReLUInPlace(torch.autograd.Function):
    """In-place ReLU for autograd that uses :func:`relu_` (the int16 clamp on bfloat16 activations)."""

    @staticmethod
    def forward(ctx, z: Tensor) -> Tensor:  # type: ignore[override]
        out = relu_(z)
        ctx.mark_dirty(z)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        (out,) = ctx.saved_tensors
        return torch.ops.aten.threshold_backward(grad, out, 0)


def relu_train_(z: Tensor) -> Tensor:
    """``z.relu_()`` with autograd; on bfloat16 through the int16 clamp (a pass ~2x cheaper there)."""
    return _ReLUInPlace.apply(z) if z.dtype == torch.bfloat16 else z.relu_()
