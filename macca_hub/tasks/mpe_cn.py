"""Cooperative Navigation (``cn``): 3 agents must cover 3 landmarks without colliding."""

from __future__ import annotations

import numpy as np

from macca_hub.tasks.base import MPETask


class CooperativeNavigation(MPETask):
    name = "cn"
    env_id = "simple_spread_v3"
    description = "MPE Cooperative Navigation: 3 agents, 3 landmarks (mpe2 simple_spread_v3)"
    reward_doc = (
        "r^i = sum over landmarks of min(1 / d_min, 10), d_min the distance from the landmark to its "
        "nearest agent, minus 5 for each other agent that agent i collides with (the OMAR variant)."
    )
    env_kwargs = {"N": 3}
    team_prefixes = ("agent_",)

    def macca_rewards(self) -> np.ndarray:
        agents = self.team_agents
        pos = self._positions(agents)
        landmarks = self._positions(self.world.landmarks)
        d_min = np.linalg.norm(landmarks[:, None, :] - pos[None, :, :], axis=-1).min(axis=1)
        coverage = np.minimum(1.0 / np.maximum(d_min, 1e-12), 10.0).sum()
        return coverage - 5.0 * self.team_contacts()
