"""macca_hub: causal credit assignment (MACCA) for offline multi-agent RL, in the Hugging Face ecosystem."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

from macca_hub.data import load_columns, load_dataset  # noqa: E402
from macca_hub.scores import normalized_score  # noqa: E402
from macca_hub.tasks import TASKS, make_task  # noqa: E402

_LAZY = {
    "CausalRewardModel": "macca_hub.reward.modeling_causal_reward",
    "CausalRewardConfig": "macca_hub.reward.configuration_causal_reward",
}


def __getattr__(name: str) -> Any:
    # Heavy model classes load on first use so `import macca_hub` stays light.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'macca_hub' has no attribute {name!r}")


__all__ = ["TASKS", "load_columns", "load_dataset", "make_task", "normalized_score", *_LAZY]
