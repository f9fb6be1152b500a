"""Relabeling: ``ds.map(model.relabel, batched=True)`` equals a direct forward call; relabeled dataset folders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml
import pytest
import torch

from macca_hub.data.loading import dataset_meta, load_dataset
from macca_hub.reward import CausalRewardConfig, CausalRewardModel, ShapeMismatchError
from macca_hub.data.loading import load_columns
from macca_hub.reward.relabel import relabel_dataset
from macca_hub.reward.synthetic import write_synthetic_dataset


@pytest.fixture(scope="module")
def cn_model(tiny_cn: Path) -> CausalRewardModel:
    """An untrained (seeded) model with the real dataset's normalisation: relabeling is about plumbing, not skill."""
    torch.manual_seed(0)
    info, stats = dataset_meta(tiny_cn)
    model = CausalRewardModel(CausalRewardConfig(n_agents=info["n_agents"], obs_dim=info["obs_dim"],
                                                 act_dim=info["act_dim"], hidden_sizes=(64, 64), mask_hidden_sizes=(64,),
                                                 mask_init=0.3))
    model.set_normalization(stats)
    return model.eval()


def _direct(model: CausalRewardModel, folder: Path) -> np.ndarray:
    cols = load_columns(folder, ["observations", "actions"])
    return model.rewards(torch.from_numpy(cols["observations"]), torch.from_numpy(cols["actions"])).numpy()


def test_map_equals_direct_forward(tiny_cn: Path, cn_model: CausalRewardModel) -> None:
    torch.set_num_threads(1)
    direct = _direct(cn_model, tiny_cn)
    assert direct.shape == (1000, 3) and direct.std() > 0
    ds = load_dataset(tiny_cn)
    fast = ds.with_format("numpy").map(cn_model.relabel, batched=True, batch_size=256)
    got = np.stack(fast.with_format("numpy")["macca_rewards"]).astype(np.float32)
    np.testing.assert_allclose(got, direct, rtol=1e-5, atol=1e-5)
    arrow = ds.with_format("arrow").map(cn_model.relabel, batched=True, batch_size=256)  # the fast path
    np.testing.assert_array_equal(np.stack(arrow.with_format("numpy")["macca_rewards"]).astype(np.float32), got)
    plain = ds.select(range(100)).map(cn_model.relabel, batched=True, batch_size=64)  # python-list batches
    np.testing.assert_allclose(np.asarray(plain["macca_rewards"], np.float32), direct[:100], rtol=1e-5, atol=1e-5)
    assert fast.column_names[-1] == "macca_rewards" and "team_reward" in fast.column_names
    # The Arrow path keeps every column too (datasets replaces an Arrow batch by the returned table).
    assert arrow.column_names == fast.column_names
    assert arrow.features["macca_rewards"].length == 3  # fixed-size, like every array column of the format
    again = arrow.with_format("arrow").map(cn_model.relabel, batched=True, batch_size=256)  # relabel twice: replaced
    assert again.column_names == fast.column_names


def test_map_with_num_proc_and_rank(tiny_cn: Path, cn_model: CausalRewardModel) -> None:
    direct = _direct(cn_model, tiny_cn)
    ds = load_dataset(tiny_cn).with_format("numpy")
    out = ds.map(cn_model.relabel, batched=True, batch_size=250, num_proc=2, with_rank=True)
    got = np.stack(out.with_format("numpy")["macca_rewards"]).astype(np.float32)
    np.testing.assert_allclose(got, direct, rtol=1e-5, atol=1e-5)


def test_relabel_dataset_writes_a_hub_dataset(tiny_cn: Path, cn_model: CausalRewardModel, tmp_path: Path) -> None:
    out = relabel_dataset(tiny_cn, cn_model, tmp_path / "relabeled", batch_size=300, progress=False)
    ds = load_dataset(out)
    assert ds.features["macca_rewards"].length == 3
    got = np.asarray(ds.with_format("numpy")["macca_rewards"], np.float32).reshape(-1, 3)
    np.testing.assert_allclose(got, _direct(cn_model, tiny_cn), rtol=1e-5, atol=1e-5)
    orig = load_dataset(tiny_cn)
    assert ds["episode_index"] == orig["episode_index"] and ds["team_reward"] == orig["team_reward"]
    hidden = load_dataset(out, "individual_rewards")
    assert len(hidden) == 1000
    info = json.loads((out / "meta" / "info.json").read_text())
    assert info["relabeled_from"] == "macca/mpe-cn-random" and info["repo_id"] == "macca/mpe-cn-random-macca-rewards"
    assert len(info["reward_model"]["model_safetensors_sha256"]) == 64
    card = (out / "README.md").read_text()
    assert "## MACCA rewards" in card and info["reward_model"]["model_safetensors_sha256"][:16] in card
    assert not (out / ".model").exists()
    from macca_hub.sharing import validate_card

    validate_card(out, "dataset")  # publishable as is: the card links its source dataset
    assert yaml.safe_load(card.split("---")[1])["source_datasets"] == ["macca/mpe-cn-random"]
    with pytest.raises(FileExistsError, match="overwrite"):
        relabel_dataset(tiny_cn, cn_model, out, progress=False)


def test_relabel_refuses_other_shapes(tiny_cn: Path, tmp_path: Path) -> None:
    model = CausalRewardModel(CausalRewardConfig(n_agents=4, obs_dim=34, act_dim=2, hidden_sizes=(8,), mask_hidden_sizes=(8,)))
    with pytest.raises(ShapeMismatchError, match=r"n_agents=4, obs_dim=34.*n_agents=3, obs_dim=18"):
        relabel_dataset(tiny_cn, model, tmp_path / "x", progress=False)
    assert not (tmp_path / "x").exists()


def test_cli_relabel_from_saved_model(tiny_cn: Path, cn_model: CausalRewardModel, tmp_path: Path) -> None:
    from macca_hub.cli import main

    cn_model.save_pretrained(tmp_path / "model")
    out = tmp_path / "relabeled"
    assert main(["relabel", "--dataset", str(tiny_cn), "--model", str(tmp_path / "model"), "--output", str(out),
                 "--no-progress"]) == 0
    got = np.asarray(load_dataset(out).with_format("numpy")["macca_rewards"], np.float32).reshape(-1, 3)
    np.testing.assert_allclose(got, _direct(cn_model, tiny_cn), rtol=1e-5, atol=1e-5)
    assert main(["relabel", "--dataset", str(tiny_cn), "--model", str(tmp_path / "model"), "--output", str(out)]) == 2


_PEAK = """
import resource, sys, torch
torch.set_num_threads(1)
from macca_hub.reward import CausalRewardConfig, CausalRewardModel
from macca_hub.reward.relabel import relabel_dataset
m = CausalRewardModel(CausalRewardConfig(n_agents=3, obs_dim=4, act_dim=2, hidden_sizes=(16,), mask_hidden_sizes=(16,)))
relabel_dataset(sys.argv[1], m, sys.argv[2], batch_size=512, progress=False)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


@pytest.mark.slow
def test_relabel_memory_does_not_grow_with_size(tmp_path: Path) -> None:
    """Peak RSS relabeling 20x more rows (same shard size) stays within a few MiB."""
    peaks = {}
    for episodes in (400, 8000):  # 10k and 200k rows, shards of 200 episodes
        ds = write_synthetic_dataset(tmp_path / f"ds{episodes}", episodes=episodes, episodes_per_shard=200)
        res = subprocess.run([sys.executable, "-c", _PEAK, str(ds), str(tmp_path / f"out{episodes}")],
                             capture_output=True, text=True, check=True)
        peaks[episodes] = int(res.stdout.strip().splitlines()[-1]) / 1024  # MiB
    print(f"peak RSS MiB by episodes: {peaks}")
    assert peaks[8000] - peaks[400] < 32, peaks
