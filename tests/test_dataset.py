"""The dataset format end to end: build, load with plain `datasets`, metadata, determinism, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
import yaml

import macca_hub
from dataset_builders.build import build_dataset
from dataset_builders.policies import PolicySpec
from macca_hub.cli import main as cli
from macca_hub.data.format import DatasetFormatError


def test_default_config_hides_individual_rewards(tiny_cn: Path) -> None:
    ds = datasets.load_dataset(str(tiny_cn), split="train")
    assert "individual_rewards" not in ds.column_names
    assert ds.num_rows == 1000
    t = ds.with_format("torch")[:64]
    assert t["observations"].shape == (64, 3, 18) and t["observations"].dtype == torch.float32
    assert t["actions"].shape == (64, 3, 2) and t["state"].shape == (64, 54)
    assert t["next_observations"].shape == (64, 3, 18) and t["next_state"].shape == (64, 54)
    assert ds.features["step"].dtype == "int32" and ds.features["episode_index"].dtype == "int64"


def test_hidden_config_sums_to_team_reward(tiny_cn: Path) -> None:
    team = macca_hub.load_columns("macca/mpe-cn-random", ["episode_index", "step", "team_reward"])
    hidden = macca_hub.load_columns("macca/mpe-cn-random", None, config="individual_rewards")
    np.testing.assert_array_equal(team["episode_index"], hidden["episode_index"])
    np.testing.assert_array_equal(team["step"], hidden["step"])
    np.testing.assert_allclose(hidden["individual_rewards"].sum(1), team["team_reward"], rtol=1e-5)
    # the plain datasets call with the config name works too
    assert datasets.load_dataset(str(tiny_cn), "individual_rewards", split="train").num_rows == 1000


def test_episode_structure_and_transitions(tiny_cn: Path) -> None:
    c = macca_hub.load_columns(tiny_cn)
    assert np.array_equal(c["step"][:25], np.arange(25)) and c["truncated"][24] and not c["truncated"][:24].any()
    assert not c["terminated"].any()
    same_episode = c["episode_index"][1:] == c["episode_index"][:-1]
    np.testing.assert_array_equal(c["next_observations"][:-1][same_episode], c["observations"][1:][same_episode])
    np.testing.assert_array_equal(c["next_state"][:-1][same_episode], c["state"][1:][same_episode])
    # the state is the concatenation of all agents' observations (cn: no opponents)
    np.testing.assert_array_equal(c["state"], c["observations"].reshape(len(c["state"]), -1))
    assert np.abs(c["actions"]).max() <= 1.0


def test_metadata_and_card(tiny_cn: Path) -> None:
    info = json.loads((tiny_cn / "meta/info.json").read_text())
    stats = json.loads((tiny_cn / "meta/stats.json").read_text())
    assert info["task"] == "cn" and info["n_agents"] == 3 and info["num_transitions"] == 1000
    assert info["num_episodes"] == 40 and info["versions"]["mpe2"] and info["behaviour_policy"]["id"] == "uniform-random"
    obs = macca_hub.load_columns(tiny_cn, ["observations", "team_reward"])
    np.testing.assert_allclose(stats["observations"]["mean"], obs["observations"].mean(0), rtol=1e-4, atol=1e-5)
    ret = obs["team_reward"].reshape(40, 25).sum(1) / 3
    assert stats["episode_return"]["mean"] == pytest.approx(float(ret.mean()), rel=1e-5)
    readme = (tiny_cn / "README.md").read_text()
    header = yaml.safe_load(readme.split("---")[1])
    assert [c["config_name"] for c in header["configs"]] == ["default", "individual_rewards"]
    assert "macca-hub build cn --quality random" in readme
    assert (tiny_cn / "meta/returns_histogram.png").read_bytes()[:4] == b"\x89PNG"


def _tables(folder: Path) -> list:
    return [pq.read_table(p) for p in sorted((folder / "data").glob("*.parquet"))]


def test_build_is_deterministic_across_worker_counts(tmp_path: Path, hub_root: Path) -> None:
    kw = dict(num_transitions=5000, seed=3, progress=False, policy=PolicySpec(kind="uniform"))
    a = build_dataset("pp", "random", output=tmp_path / "a", workers=1, **kw)
    b = build_dataset("pp", "random", output=tmp_path / "b", workers=2, **kw)
    ta, tb = _tables(a), _tables(b)
    assert len(ta) == len(tb) and all(x.equals(y) for x, y in zip(ta, tb))
    for sub in ("data", "individual_rewards"):
        for pa_, pb_ in zip(sorted((a / sub).glob("*")), sorted((b / sub).glob("*"))):
            assert pa_.read_bytes() == pb_.read_bytes()
    c = build_dataset("pp", "random", output=tmp_path / "c", workers=1, **{**kw, "seed": 4})
    assert not _tables(c)[0].equals(ta[0])


def test_refuses_overwrite_and_never_leaves_partial_output(tmp_path: Path, hub_root: Path, monkeypatch) -> None:
    out = tmp_path / "ds"
    kw = dict(num_transitions=50, workers=1, progress=False, policy=PolicySpec(kind="uniform"))
    build_dataset("cn", "random", output=out, **kw)
    with pytest.raises(FileExistsError, match="--overwrite"):
        build_dataset("cn", "random", output=out, **kw)

    from macca_hub.data import writer

    def boom(self, info):
        raise KeyboardInterrupt

    monkeypatch.setattr(writer.DatasetWriter, "finalize", boom)
    with pytest.raises(KeyboardInterrupt):
        build_dataset("cn", "random", output=tmp_path / "never", **kw)
    with pytest.raises(KeyboardInterrupt):
        build_dataset("cn", "random", output=out, overwrite=True, **kw)
    assert not (tmp_path / "never").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no temp folders left behind
    assert (out / "meta/info.json").is_file()  # the old complete dataset survived


def test_bad_inputs_give_clear_errors(tmp_path: Path, tiny_cn: Path, capsys) -> None:
    with pytest.raises(ValueError, match=r"valid tasks are \['cn', 'pp', 'world'\]"):
        build_dataset("spread", "random", num_transitions=10)
    with pytest.raises(ValueError, match="valid qualities are"):
        build_dataset("cn", "great", num_transitions=10)
    with pytest.raises(ValueError, match="positive"):
        build_dataset("cn", "random", num_transitions=0, output=tmp_path / "x")
    # CLI: one error line, exit code 2, no traceback
    assert cli(["build", "cn", "--num-transitions", "-5", "--output", str(tmp_path / "y")]) == 2
    assert "positive" in capsys.readouterr().err

    broken = tmp_path / "no_meta"
    shutil.copytree(tiny_cn, broken)
    (broken / "meta/info.json").unlink()
    with pytest.raises(DatasetFormatError, match="meta/info.json is missing"):
        macca_hub.load_dataset(broken)

    mismatched = tmp_path / "mismatch"
    shutil.copytree(tiny_cn, mismatched)
    info = json.loads((mismatched / "meta/info.json").read_text())
    info["obs_dim"] = 20
    (mismatched / "meta/info.json").write_text(json.dumps(info))
    with pytest.raises(DatasetFormatError, match="obs_dim=20.*rebuild"):
        macca_hub.load_dataset(mismatched)

    with pytest.raises(FileNotFoundError, match="macca-hub build world --quality medium"):
        macca_hub.load_dataset("macca/mpe-world-medium")
    with pytest.raises(ValueError, match="Unknown config"):
        macca_hub.load_dataset(tiny_cn, config="rewards")


def test_cli_help_and_info(tiny_cn: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        cli(["build", "--help"])
    out = capsys.readouterr().out
    for flag in ("--quality", "--num-transitions", "--seed", "--overwrite", "--reward", "--workers"):
        assert flag in out
    assert cli(["info", "macca/mpe-cn-random"]) == 0
    assert "1000 transitions" in capsys.readouterr().out
