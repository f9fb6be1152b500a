"""The task registry against the real mpe2 worlds: shapes, action mapping, individual rewards."""

from __future__ import annotations

import numpy as np
import pytest

from macca_hub.tasks import TASKS, episode_seed, force_to_mpe2, make_task

EXPECTED = {"cn": (3, 18, 54, 0), "pp": (3, 16, 62, 1), "world": (4, 34, 192, 2)}


def _dist(a, b) -> float:
    return float(np.sqrt(np.sum((np.asarray(a) - np.asarray(b)) ** 2)))


def direct_rewards(task) -> np.ndarray:
    """The issue's reward definitions, computed entity by entity from the mpe2 world state."""
    world = task.env.world
    if task.name == "cn":
        agents = world.agents
        cover = 0.0
        for lm in world.landmarks:
            d = min(_dist(a.state.p_pos, lm.state.p_pos) for a in agents)
            cover += min(1.0 / d, 10.0)
        out = []
        for a in agents:
            hits = sum(1 for b in agents if b is not a and _dist(a.state.p_pos, b.state.p_pos) < a.size + b.size)
            out.append(cover - 5.0 * hits)
        return np.array(out)
    team = [a for a in world.agents if a.adversary]
    good = [a for a in world.agents if not a.adversary]
    out = []
    for a in team:
        d = min(_dist(a.state.p_pos, g.state.p_pos) for g in good)
        touch = any(_dist(a.state.p_pos, g.state.p_pos) < a.size + g.size for g in good)
        out.append(-0.1 * d + (10.0 if task.name == "pp" else 5.0) * touch)
    return np.array(out)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_spec_shapes_and_state(name: str) -> None:
    task = make_task(name)
    n, obs_dim, state_dim, n_opp = EXPECTED[name]
    assert (task.spec.n_agents, task.spec.obs_dim, task.spec.state_dim, len(task.spec.opponents)) == (n, obs_dim, state_dim, n_opp)
    obs, state = task.reset(seed=3)
    assert obs.shape == (n, obs_dim) and obs.dtype == np.float32
    np.testing.assert_array_equal(state, task.env.state())  # mpe2's own global state


@pytest.mark.parametrize("name", sorted(TASKS))
def test_individual_rewards_match_world_state_every_step(name: str) -> None:
    # A standing opponent makes touches (the +10 / +5 terms) certain within a few episodes.
    task = make_task(name, opponent_policy=lambda obs: np.zeros((len(obs), 2)))
    rng = np.random.default_rng(0)
    contacts = 0
    for episode in range(4):
        task.reset(seed=episode_seed(7, episode))
        for t in range(task.max_steps):
            # half the time, chase the first opponent (cn: gather at the origin) so contacts happen
            act = rng.uniform(-1, 1, (task.spec.n_agents, 2))
            if t % 2:
                pos = np.array([a.state.p_pos for a in task.team_agents])
                goal = task.opponent_agents[0].state.p_pos if task.opponent_agents else np.zeros(2)
                act = np.clip((goal - pos) * 5, -1, 1)
            res = task.step(act)
            expected = direct_rewards(task)
            np.testing.assert_allclose(res.individual_rewards, expected, rtol=1e-5, atol=1e-5)
            assert res.team_reward == pytest.approx(float(expected.sum()), rel=1e-5, abs=1e-4)
            contacts += int(np.any(expected > 4.0)) if name != "cn" else int(np.any(np.diff(expected) != 0))
            assert res.truncated == (t == task.max_steps - 1)
    assert contacts > 0, "the test never exercised a collision/touch term"


@pytest.mark.parametrize("name", sorted(TASKS))
def test_stock_mpe2_reward_variant(name: str) -> None:
    task = make_task(name, reward="mpe2")
    task.reset(seed=1)
    res = task.step(np.zeros((task.spec.n_agents, 2)))
    stock = [task.scenario.reward(a, task.world) for a in task.team_agents]
    np.testing.assert_allclose(res.individual_rewards, stock, rtol=1e-6)


def test_force_mapping_reproduces_mpe2_physics() -> None:
    task = make_task("cn")
    task.reset(seed=0)
    force = np.array([[0.5, -0.25], [-1.0, 1.0], [0.0, 0.3]])
    task.step(force)
    for agent, f in zip(task.team_agents, force):
        np.testing.assert_allclose(agent.action.u, f * 5.0)  # mpe2 sensitivity 5 for cn agents
    assert force_to_mpe2(np.array([2.0, -3.0])).tolist() == [0.0, 0.0, 1.0, 1.0, 0.0]  # clipped to [-1, 1]


def test_world_leader_is_silent() -> None:
    task = make_task("world")
    task.reset(seed=0)
    task.step(np.ones((4, 2)))
    leader = task.team_agents[0]
    assert leader.name == "leadadversary_0" and not leader.silent
    assert np.all(leader.action.c == 0)


def test_same_seed_same_episode() -> None:
    a, b = make_task("pp"), make_task("pp")
    oa, _ = a.reset(seed=11)
    ob, _ = b.reset(seed=11)
    np.testing.assert_array_equal(oa, ob)
    act = np.full((3, 2), 0.3)
    np.testing.assert_array_equal(a.step(act).observations, b.step(act).observations)


def test_bad_task_and_reward_names() -> None:
    with pytest.raises(ValueError, match=r"valid tasks are \['cn', 'pp', 'world'\]"):
        make_task("spread")
    with pytest.raises(ValueError, match="choose one of"):
        make_task("cn", reward="dense")
    with pytest.raises(ValueError, match=r"expected actions of shape \(3, 2\)"):
        t = make_task("cn")
        t.reset(0)
        t.step(np.zeros((2, 2)))


def test_world_vectorised_observations_equal_mpe2() -> None:
    """World's array-based observations equal mpe2's scenario.observation bit for bit, forests included.

    Agents are also teleported into the forests, so every visibility case (same forest, different
    forests, observer or other hidden, the leader seeing everyone) is exercised, not just open ground.
    """
    task = make_task("world")
    world = task.world
    rng = np.random.default_rng(0)
    cases = {"observer_hidden": 0, "same_forest": 0}
    for ep in range(8):
        task.reset(ep)
        for t in range(25):
            task.step(rng.uniform(-1, 1, (task.spec.n_agents, 2)))
            if t % 3 == 0:  # put a random subset of agents inside random forests
                for agent in world.agents:
                    if rng.random() < 0.5:
                        forest = world.forests[rng.integers(len(world.forests))]
                        agent.state.p_pos = forest.state.p_pos + rng.uniform(-0.1, 0.1, 2)
            mine = task._all_observations()
            for agent, obs in zip(world.agents, mine):
                ref = task.scenario.observation(agent, world).astype(np.float32)
                assert obs.dtype == np.float32 and obs.shape == ref.shape
                np.testing.assert_array_equal(obs, ref)
            inside = [[task.scenario.is_collision(a, f) for f in world.forests] for a in world.agents]
            cases["observer_hidden"] += sum(any(x) for x in inside)
            cases["same_forest"] += sum(inside[i][k] and inside[j][k] for i in range(len(inside))
                                        for j in range(i + 1, len(inside)) for k in range(len(world.forests)))
    assert cases["observer_hidden"] > 50 and cases["same_forest"] > 20, cases
