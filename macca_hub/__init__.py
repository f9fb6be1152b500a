"""macca_hub: causal credit assignment (MACCA) for offline multi-agent RL, in the Hugging Face ecosystem."""

from __future__ import annotations

__version__ = "0.1.0"

from macca_hub.data import load_columns, load_dataset  # noqa: E402
from macca_hub.scores import normalized_score  # noqa: E402
from macca_hub.tasks import TASKS, make_task  # noqa: E402
from macca_hub.utils.lazy import lazy_exports  # noqa: E402

# Models and trainers (torch, accelerate) load on first use.
_LAZY = {
    **{name: "macca_hub.reward" for name in ("CausalRewardModel", "CausalRewardConfig", "RewardTrainingConfig",
                                               "train_reward_model", "evaluate_reward_model", "relabel_dataset")},
    "TrainPolicyConfig": "macca_hub.algos.training",
    "train_policy": "macca_hub.algos.training",
}
__getattr__ = lazy_exports(__name__, _LAZY)

__all__ = ["TASKS", "load_columns", "load_dataset", "make_task", "normalized_score", *_LAZY]
