"""World (``world``): 4 adversaries (leader included) hunt 2 good agents among forests and food."""

from __future__ import annotations

import numpy as np

from macca_hub.tasks.base import MPETask, OpponentPolicy, flee_nearest


class World(MPETask):
    name = "world"
    env_id = "simple_world_comm_v3"
    description = "MPE World: 4 adversaries (1 leader) vs 2 good agents, forests and food (mpe2 simple_world_comm_v3)"
    reward_doc = (
        "r^i = -0.1 * distance(adversary i, nearest good agent) + 5 if adversary i touches a good agent. "
        "The leader's communication channel is held silent (an all-zero message every step)."
    )
    opponent_doc = (
        "frozen MATD3 good agents (shipped policy world-good, trained jointly against the adversaries with their "
        "stock mpe2 reward); the scripted ones (flee the nearest adversary) stay available as World.scripted_opponent()"
    )
    opponent_id = "world-good"
    env_kwargs = {"num_good": 2, "num_adversaries": 4, "num_obstacles": 1, "num_food": 2, "num_forests": 2}
    team_prefixes = ("leadadversary_", "adversary_")

    def macca_rewards(self) -> np.ndarray:
        adv, good = self.team_agents, self.opponent_agents
        p, q = self._positions(adv), self._positions(good)
        dist = np.linalg.norm(p[:, None, :] - q[None, :, :], axis=-1).min(axis=1)
        touch = self._touching(p, q, np.array([a.size for a in adv]), np.array([a.size for a in good])).any(axis=1)
        return -0.1 * dist + 5.0 * touch

    @staticmethod
    def scripted_opponent() -> OpponentPolicy:
        """The foundation's scripted good agents, kept as an option: ``make_task("world", opponent_policy=...)``."""
        # good-agent obs: vel(2) pos(2) obstacle(2) food(2x2) forests(2x2) others(5x2: 4 adversaries first) ...
        return lambda obs: flee_nearest(obs, slice(14, 22), 4)
