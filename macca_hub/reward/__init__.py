"""MACCA's causal reward model: train it, evaluate its credit assignment, relabel datasets with it."""

from __future__ import annotations

from typing import Any

from macca_hub.reward.configuration_causal_reward import CausalRewardConfig
from macca_hub.reward.modeling_causal_reward import CausalRewardModel, CausalRewardOutput, ShapeMismatchError

_LAZY = {
    "RewardTrainingConfig": "macca_hub.reward.training",
    "train_reward_model": "macca_hub.reward.training",
    "evaluate_reward_model": "macca_hub.reward.evaluation",
    "relabel_dataset": "macca_hub.reward.relabel",
}


def __getattr__(name: str) -> Any:
    # Training pulls in accelerate; load it only when asked for.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'macca_hub.reward' has no attribute {name!r}")


__all__ = ["CausalRewardConfig", "CausalRewardModel", "CausalRewardOutput", "ShapeMismatchError", *_LAZY]
