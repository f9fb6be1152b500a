"""Normalized scores: 100 * (S - S_random) / (S_expert - S_random), per task.

S_random and S_expert are the mean episode returns (mean over team agents of each agent's
summed individual rewards) of the shipped random and expert behaviour policies, measured over
at least 500 episodes and stored in ``macca_hub/assets/scores.json``.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Sequence

import numpy as np


def reference_scores() -> dict[str, dict[str, float]]:
    """``{task: {"s_random": ..., "s_expert": ..., ...}}`` for every task whose references are measured."""
    return json.loads(resources.files("macca_hub").joinpath("assets/scores.json").read_text())


def normalized_score(task: str, returns: float | Sequence[float] | np.ndarray,
                     s_random: float | None = None, s_expert: float | None = None) -> float:
    """Mean normalized score of ``returns`` on ``task`` (0 = random policy, 100 = expert policy)."""
    if s_random is None or s_expert is None:
        refs = reference_scores()
        if task not in refs:
            raise ValueError(
                f"No reference scores for task {task!r} yet (known: {sorted(refs)}); pass s_random and s_expert, "
                "or measure them with `python -m dataset_builders.measure_scores`."
            )
        s_random, s_expert = refs[task]["s_random"], refs[task]["s_expert"]
    mean = float(np.mean(np.asarray(returns, dtype=np.float64)))
    return 100.0 * (mean - s_random) / (s_expert - s_random)
