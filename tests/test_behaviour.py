"""Behaviour policies: the MATD3 trainer learns, shipped policies load and act, builds are reproducible."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dataset_builders.policies import MLPPolicy, PolicySpec, shipped_policy_dir
from macca_hub.tasks import make_task

SHIPPED = sorted(p for p in (Path(__file__).resolve().parents[1] / "macca_hub/assets/policies").glob("*")
                 if (p / "model.safetensors").is_file())


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300-step MATD3 run on pp (team + co-trained prey), tiny networks."""
    from dataset_builders.matd3 import MATD3Config, train

    out = tmp_path_factory.mktemp("matd3") / "run"
    return train(MATD3Config(task="pp", output=str(out), seed=3, total_steps=300, learning_starts=100, batch_size=32,
                             hidden=16, train_every=2, snapshot_every=100, eval_episodes=1))


def test_trainer_runs_and_its_loss_moves(tiny_run: Path) -> None:
    rows = [json.loads(line) for line in (tiny_run / "curve.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 100, 200, 300]
    losses = [r["critic_loss"] for r in rows[1:]]
    assert all(np.isfinite(losses)) and len(set(losses)) == len(losses)
    assert "actor_loss" in rows[-1]
    assert sorted(p.name for p in (tiny_run / "snapshots").iterdir())[0] == "step_0000000"
    with np.load(tiny_run / "actions.npz") as log:
        assert log["team_actions"].shape == (12, 25, 3, 2) and log["opponent_actions"].shape == (12, 25, 1, 2)
        assert np.abs(log["team_actions"]).max() <= 1.0
    # the random-init snapshot differs from the last one (the actor was trained)
    from dataset_builders.policies import MLPActor

    a0 = MLPActor.from_pretrained(tiny_run / "snapshots/step_0000000/team").state_dict()
    a3 = MLPActor.from_pretrained(tiny_run / "snapshots/step_0000300/team").state_dict()
    assert any(not np.array_equal(a0[k].numpy(), a3[k].numpy()) for k in a0)


@pytest.mark.skipif(not (Path(__file__).resolve().parents[1] / "macca_hub/assets/policies/pp-prey").is_dir(),
                    reason="pp opponent not shipped")
def test_replaying_the_action_log_reproduces_the_replay_buffer(tiny_run: Path, tmp_path: Path) -> None:
    from dataset_builders.build import build_dataset
    from macca_hub.data.loading import load_columns

    out = build_dataset("pp", "medium-replay", num_transitions=300, seed=3, output=tmp_path / "mr", workers=1,
                        progress=False, policy=PolicySpec(kind="replay", name="tiny", path=str(tiny_run / "actions.npz")))
    cols = load_columns(out, ["individual_rewards"], config="individual_rewards")
    with np.load(tiny_run / "actions.npz") as log:
        np.testing.assert_array_equal(cols["individual_rewards"], log["team_rewards"].reshape(-1, 3))
    info = json.loads((out / "meta/info.json").read_text())
    assert info["opponent"]["id"] == "co-trained" and len(info["behaviour_policy"]["sha256"]) == 64


@pytest.mark.parametrize("folder", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_policy_loads_and_acts(folder: Path) -> None:
    policy = MLPPolicy(folder)
    cfg = policy.actor.config
    obs = np.random.default_rng(0).normal(size=(cfg.n_agents, cfg.obs_dim)).astype(np.float32)
    act = policy.act(obs)
    assert act.shape == (cfg.n_agents, 2) and np.all(np.abs(act) <= 1.0)
    np.testing.assert_array_equal(act, policy.act(obs))  # deterministic
    with pytest.raises(ValueError, match="expects observations of shape"):
        policy.act(obs[:, :-1])
    if cfg.role in ("random", "medium", "expert"):
        spec = make_task(cfg.task).spec
        assert (cfg.n_agents, cfg.obs_dim) == (spec.n_agents, spec.obs_dim)


@pytest.mark.skipif(not (Path(__file__).resolve().parents[1] / "macca_hub/assets/policies/cn-expert").is_dir(),
                    reason="cn expert not shipped")
def test_build_from_shipped_policy_is_identical_twice(hub_root: Path, tmp_path: Path) -> None:
    from dataset_builders.build import build_dataset
    from macca_hub.data.loading import load_columns
    from macca_hub.utils.io import sha256_file

    a = build_dataset("cn", "expert", num_transitions=250, seed=5, output=tmp_path / "a", workers=1, progress=False)
    b = build_dataset("cn", "expert", num_transitions=250, seed=5, output=tmp_path / "b", workers=2, progress=False)
    for f in sorted(p.relative_to(a) for p in (a / "data").glob("*.parquet")):
        assert sha256_file(a / f) == sha256_file(b / f)
    info = json.loads((a / "meta/info.json").read_text())
    assert info["behaviour_policy"]["sha256"] == sha256_file(
        shipped_policy_dir("cn-expert") / "model.safetensors")
    cols = load_columns(a, ["actions"])
    assert cols["actions"].shape == (250, 3, 2)


def test_normalized_score_maps_references_to_0_and_100() -> None:
    from macca_hub.scores import normalized_score, reference_scores

    refs = reference_scores()
    if not refs:
        pytest.skip("no reference scores measured yet")
    for task, r in refs.items():
        assert normalized_score(task, [r["s_random"]]) == pytest.approx(0.0, abs=1e-9)
        assert normalized_score(task, [r["s_expert"], r["s_expert"]]) == pytest.approx(100.0)
        assert r["s_expert"] > r["s_random"]
    assert normalized_score("cn", [1.0, 3.0], s_random=1.0, s_expert=3.0) == pytest.approx(50.0)
