"""Causal reward model: gradients, sparsity, recovery of known causal dims, Hub round trip, shape errors, resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from macca_hub.reward import CausalRewardConfig, CausalRewardModel, ShapeMismatchError
from macca_hub.reward.synthetic import relevant_dims, write_synthetic_dataset
from macca_hub.reward.training import RewardTrainingConfig, train_reward_model

SMALL = dict(hidden_sizes=(64, 64), mask_hidden_sizes=(64,))


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 episodes (1,000 rows), 3 agents x obs 4, act 2; r^i depends on one own obs dim and one own action dim."""
    return write_synthetic_dataset(tmp_path_factory.mktemp("syn") / "ds", episodes=40)


@pytest.fixture(scope="module")
def trained(synthetic: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[CausalRewardModel, dict, Path]:
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("models") / "syn-reward"
    model, metrics = train_reward_model(RewardTrainingConfig(
        dataset=str(synthetic), output=str(out), steps=400, batch_size=256, lr=1e-3, lambda_state=0.2,
        lambda_action=0.2, eval_every=200, checkpoint_every=0, progress=False, model_id="macca/syn-causal-reward", **SMALL))
    return model, metrics, out


def _batch(cfg: CausalRewardConfig, b: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(b, cfg.n_agents, cfg.obs_dim, generator=g)
    act = torch.rand(b, cfg.n_agents, cfg.act_dim, generator=g) * 2 - 1
    return obs, act, obs[:, :, 0].sum(1) + act[:, :, 0].sum(1)


@pytest.mark.parametrize("graph", ["dynamic", "fixed", "full"])
def test_forward_is_batched_over_agents(graph: str) -> None:
    cfg = CausalRewardConfig(n_agents=3, obs_dim=5, act_dim=2, graph=graph, **SMALL)
    model = CausalRewardModel(cfg)
    obs, act, _ = _batch(cfg)
    out = model(obs, act)
    assert out.rewards.shape == (32, 3)
    assert out.state_mask.shape[1:] == (3, 15) and out.action_mask.shape[1:] == (3, 6)
    flat = model(obs.reshape(32, -1), act.reshape(32, -1))
    assert torch.equal(out.rewards, flat.rewards)
    # each agent's reward depends only on its own row: a batch of one row gives the same numbers
    assert torch.allclose(model(obs[:1], act[:1]).rewards, out.rewards[:1], atol=1e-6)
    if graph == "full":
        assert torch.all(out.state_mask == 1) and torch.all(out.action_mask == 1)


@pytest.mark.parametrize("straight_through", [True, False])
def test_gradient_reaches_masks_and_reward_net(straight_through: bool) -> None:
    cfg = CausalRewardConfig(n_agents=3, obs_dim=4, act_dim=2, straight_through=straight_through, **SMALL)
    model = CausalRewardModel(cfg).train()
    obs, act, team = _batch(cfg)
    loss, parts = model.loss(obs, act, team)
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {name}"
    assert set(parts) == {"loss", "reward_mse", "l1_state", "l1_action"}
    assert float(parts["loss"]) == pytest.approx(float(parts["reward_mse"] + cfg.lambda_state * parts["l1_state"]
                                                       + cfg.lambda_action * parts["l1_action"]), rel=1e-5)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_bf16_autocast_keeps_hidden_activations_bf16(activation: str) -> None:
    """Under bf16 autocast every hidden layer of psi_g and psi_r sees bfloat16 inputs (a float32 agent row
    once promoted whole activations, and their gradients, to float32); rewards and gradients stay float32 and
    the loss stays near float32's."""
    cfg = CausalRewardConfig(n_agents=3, obs_dim=4, act_dim=2, activation=activation, **SMALL)
    model = CausalRewardModel(cfg).train()
    obs, act, team = _batch(cfg)
    seen: list[torch.dtype] = []
    for net in (model.mask_net, model.reward_net):
        for layer in net.body:
            if isinstance(layer, torch.nn.Linear):
                layer.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].dtype))
    ref, _ = model.loss(obs, act, team)
    seen.clear()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(obs, act)
        loss, _ = model.loss_from_outputs(out, team)
    assert seen and set(seen) == {torch.bfloat16}
    assert out.rewards.dtype == torch.float32
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.dtype == torch.float32 and torch.isfinite(p.grad).all(), name
    assert float(loss) == pytest.approx(float(ref), rel=0.05)


def test_l1_makes_masks_sparser(synthetic: Path) -> None:
    from macca_hub.data.loading import load_columns

    cols = load_columns(synthetic, ["observations", "actions", "team_reward"])
    obs, act, team = (torch.from_numpy(cols[k]) for k in ("observations", "actions", "team_reward"))
    torch.set_num_threads(1)
    density = {}
    for lam in (0.0, 0.5):
        torch.manual_seed(0)
        cfg = CausalRewardConfig(n_agents=3, obs_dim=4, act_dim=2, lambda_state=lam, lambda_action=lam,
                                 mask_init=0.9, mask_init_own=0.9, **SMALL)
        model = CausalRewardModel(cfg).train()
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        for step in range(150):
            idx = torch.from_numpy(np.random.default_rng(step).integers(0, len(obs), 128))
            loss, _ = model.loss(obs[idx], act[idx], team[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            x = model.normalized_inputs(obs, act)
            density[lam] = float((model.masks(x) > cfg.threshold).float().mean())
    assert density[0.0] > 0.5, density
    assert density[0.5] < 0.5 * density[0.0], density


def test_learns_known_causal_dims(trained: tuple[CausalRewardModel, dict, Path]) -> None:
    model, metrics, _ = trained
    fid = metrics["fidelity"]
    s_dims, a_dims = relevant_dims(3, 4, 2)
    state = np.array(model.card_info["mean_masks"]["state"])
    action = np.array(model.card_info["mean_masks"]["action"])
    for i in range(3):
        assert state[i, s_dims[i]] > 0.9 and action[i, a_dims[i]] > 0.5, (i, state[i], action[i])
        others_s = np.delete(state[i], s_dims[i])
        others_a = np.delete(action[i], a_dims[i])
        assert others_s.max() < 0.5 and others_a.max() < 0.5, (i, state[i], action[i])
    assert fid["team_r2"] > 0.9
    assert min(fid["agent_pearson"]) > 0.9
    assert fid["relative_credit_pearson"] > 0.7
    assert all(d < 0.3 for d in fid["state_mask_density"])  # ~1 of 12 dims per agent


def test_save_load_round_trip_is_bit_exact(trained: tuple[CausalRewardModel, dict, Path]) -> None:
    model, metrics, out = trained
    assert {p.name for p in out.iterdir()} >= {"config.json", "model.safetensors", "README.md", "mask_heatmap.png",
                                               "training_info.json"}
    loaded = CausalRewardModel.from_pretrained(out)
    assert loaded.config == model.config
    obs, act, _ = _batch(model.config, b=64, seed=3)
    model.eval()
    assert torch.equal(loaded(obs, act).rewards, model(obs, act).rewards)
    assert torch.equal(loaded.rewards(obs, act), model.rewards(obs, act))
    assert torch.equal(loaded.state_std, model.state_std)  # normalisation stats travel in the safetensors
    card = (out / "README.md").read_text()
    assert "macca/synthetic-random" in card and model.card_info["dataset"]["fingerprint"] in card
    assert f"{metrics['fidelity']['team_r2']:.4f}" in card and "mask_heatmap.png" in card
    assert "400" in card  # training steps


def test_loading_refuses_pickle_and_mismatched_config(trained: tuple[CausalRewardModel, dict, Path], tmp_path: Path) -> None:
    _, _, out = trained
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text((out / "config.json").read_text())
    torch.save({"x": torch.zeros(1)}, pickled / "pytorch_model.bin")
    with pytest.raises(FileNotFoundError, match="pickle"):
        CausalRewardModel.from_pretrained(pickled)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "model.safetensors").write_bytes((out / "model.safetensors").read_bytes())
    cfg = json.loads((out / "config.json").read_text())
    cfg["obs_dim"] = 5
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=r"has shape \(3, 18\).*implies \(3, 21\)"):
        CausalRewardModel.from_pretrained(bad)


def test_other_dataset_shapes_raise_named_error(tiny_cn: Path) -> None:
    from macca_hub.data.loading import dataset_meta

    model = CausalRewardModel(CausalRewardConfig(n_agents=3, obs_dim=4, act_dim=2, **SMALL))
    info, _ = dataset_meta(tiny_cn)
    with pytest.raises(ShapeMismatchError, match=r"n_agents=3, obs_dim=4, act_dim=2.*n_agents=3, obs_dim=18, act_dim=2"):
        model.check_compatible(info)
    with pytest.raises(ShapeMismatchError, match=r"\(8, 3, 18\).*\[batch, 3, 4\]"):
        model(torch.zeros(8, 3, 18), torch.zeros(8, 3, 2))


def test_resume_gives_the_same_result(synthetic: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    common = dict(dataset=str(synthetic), batch_size=64, eval_every=10, checkpoint_every=10, progress=False,
                  evaluate=False, seed=3, **SMALL)
    full, m_full = train_reward_model(RewardTrainingConfig(output=str(tmp_path / "full"), steps=30, **common))
    train_reward_model(RewardTrainingConfig(output=str(tmp_path / "part"), steps=20, **common))  # "interrupted" at 20
    assert (tmp_path / "part-checkpoints" / "step_00000020" / "model.safetensors").is_file()
    resumed, m_res = train_reward_model(RewardTrainingConfig(output=str(tmp_path / "part"), steps=30, resume=True, **common))
    assert m_res["final_eval"] == m_full["final_eval"]
    for (k, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), k
    with pytest.raises(ValueError, match="different settings"):
        train_reward_model(RewardTrainingConfig(output=str(tmp_path / "part"), steps=40, resume=True,
                                                **{**common, "seed": 4}))


def test_output_exists_error_before_training(synthetic: Path, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(FileExistsError, match="--overwrite"):
        train_reward_model(RewardTrainingConfig(dataset=str(synthetic), output=str(tmp_path / "taken"), steps=5))


def test_cli_train_and_evaluate(synthetic: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from macca_hub.cli import main

    out = tmp_path / "cli-model"
    assert main(["train-reward", "--dataset", str(synthetic), "--output", str(out), "--steps", "20", "--batch-size", "64",
                 "--hidden-sizes", "32", "32", "--mask-hidden-sizes", "32", "--checkpoint-every", "0", "--no-progress"]) == 0
    assert "team reward R^2" in capsys.readouterr().out
    assert main(["evaluate-reward", "--model", str(out), "--all-episodes"]) == 0
    text = capsys.readouterr().out
    assert "per-agent Pearson" in text and "written to" in text
    info = json.loads((out / "training_info.json").read_text())
    assert info["evaluations"][-1]["split"] == "all" and info["evaluations"][-1]["rows"] == 1000
    assert main(["evaluate-reward", "--model", str(tmp_path / "missing")]) == 2
