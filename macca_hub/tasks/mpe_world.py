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

    def _all_observations(self) -> list[np.ndarray]:
        """Every agent's mpe2 observation, computed at once (equal to ``scenario.observation``, bit for bit).

        mpe2 builds World observations with ~120 scalar ``is_collision`` calls per step, 65% of a step;
        this is the same arithmetic on arrays. Layout (mpe2's): vel, pos, landmarks (obstacle, food,
        forests) relative, other agents relative (zero when a forest hides them), then for adversaries
        good agents' velocities, in-forest flags, leader message; for good agents in-forest flags, then
        the other good agents' velocities. ``tests/test_tasks.py`` checks it against mpe2.
        """
        world = self.world
        agents = world.agents
        pos = np.array([a.state.p_pos for a in agents])
        vel = np.array([a.state.p_vel for a in agents])
        sizes = np.array([a.size for a in agents])
        landmarks = np.array([lm.state.p_pos for lm in world.landmarks if not lm.boundary])
        forests = np.array([f.state.p_pos for f in world.forests])
        delta = pos[:, None, :] - forests[None, :, :]
        dist = np.sqrt(np.sum(np.square(delta), axis=-1))
        in_forest = dist < sizes[:, None] + np.array([f.size for f in world.forests])[None, :]  # [agents, forests]
        hidden_nowhere = ~in_forest.any(axis=1)
        same_forest = (in_forest[:, None, :] & in_forest[None, :, :]).any(axis=-1)  # [observer, other]
        leader = np.array([a.leader for a in agents])
        visible = same_forest | (hidden_nowhere[:, None] & hidden_nowhere[None, :]) | leader[:, None]
        adversary = np.array([a.adversary for a in agents])
        comm = agents[0].state.c
        flags = np.where(in_forest, 1.0, -1.0)
        out = []
        for i, agent in enumerate(agents):
            others = [j for j in range(len(agents)) if j != i]
            rel = np.where(visible[i, others][:, None], pos[others] - pos[i], 0.0)
            good_others = [j for j in others if not adversary[j]]
            good_vel = np.where(visible[i, good_others][:, None], vel[good_others], 0.0)
            parts = [vel[i], pos[i], (landmarks - pos[i]).ravel(), rel.ravel()]
            if agent.adversary:
                parts += [good_vel.ravel(), flags[i], comm]
            else:
                parts += [flags[i], good_vel.ravel()]
            out.append(np.concatenate(parts).astype(np.float32))
        return out

    @staticmethod
    def scripted_opponent() -> OpponentPolicy:
        """The foundation's scripted good agents, kept as an option: ``make_task("world", opponent_policy=...)``."""
        # good-agent obs: vel(2) pos(2) obstacle(2) food(2x2) forests(2x2) others(5x2: 4 adversaries first) ...
        return lambda obs: flee_nearest(obs, slice(14, 22), 4)
