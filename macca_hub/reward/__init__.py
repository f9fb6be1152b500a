"""MACCA's causal reward model: train it, evaluate its credit assignment, relabel datasets with it."""

from __future__ import annotations

from macca_hub.reward.configuration_causal_reward import CausalRewardConfig
from macca_hub.reward.modeling_causal_reward import CausalRewardModel, CausalRewardOutput, ShapeMismatchError
from macca_hub.utils.lazy import lazy_exports

_LAZY = {
    "RewardTrainingConfig": "macca_hub.reward.training",
    "train_reward_model": "macca_hub.reward.training",
    "evaluate_reward_model": "macca_hub.reward.evaluation",
    "relabel_dataset": "macca_hub.reward.relabel",
}


# Training pulls in accelerate; load it only when asked for.
__getattr__ = lazy_exports(__name__, _LAZY)

__all__ = ["CausalRewardConfig", "CausalRewardModel", "CausalRewardOutput", "ShapeMismatchError", *_LAZY]
