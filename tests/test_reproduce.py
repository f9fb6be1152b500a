"""The reproduction harness (``benchmarks/reproduce_mpe.py``) at a tiny size: the oracle ablation's four arms."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import reproduce_mpe


def test_oracle_ablation_runs_every_arm_with_the_scale_matched_control(tiny_cn: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "repro"
    monkeypatch.setattr(sys, "argv", [
        "reproduce_mpe.py", "--ablation", "oracle", "--ablation-algo", "icql", "--datasets", str(tiny_cn),
        "--seeds", "1", "--num-updates", "4", "--batch-size", "32", "--eval-every", "4", "--eval-episodes", "1",
        "--checkpoint-every", "0", "--reward-steps", "5", "--reward-batch-size", "64", "--out", str(out)])
    import datasets

    try:
        reproduce_mpe.main()
    finally:
        datasets.enable_progress_bars()  # the script silences them process-wide
    table = capsys.readouterr().out
    for arm in reproduce_mpe.ORACLE_ARMS:
        assert f"oracle={arm}" in table
    runs = out / "ablation-oracle" / "icql" / tiny_cn.name
    res = {arm: json.loads((runs / arm / "seed0" / "results.json").read_text()) for arm in reproduce_mpe.ORACLE_ARMS}
    assert res["team"]["config"]["reward"] == res["team-scaled"]["config"]["reward"] == "team"
    assert res["ground-truth"]["config"]["reward"] == "ground-truth" and res["macca"]["config"]["reward"] == "macca"
    # The control: the team reward at a third of train-policy's default scale (3 agents), nothing else changed.
    assert res["team-scaled"]["reward_scale"] == pytest.approx(res["team"]["reward_scale"] / 3)
    assert np.isfinite([r["final_return"] for r in res.values()]).all()
    assert (out / "reward_models").is_dir()  # shared by every table and ablation under --out
    assert "oracle=team-scaled" in (out / "ablation-oracle" / "icql" / f"table-{tiny_cn.name}.md").read_text()


def test_oracle_ablation_refuses_unknown_arms(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "argv", ["reproduce_mpe.py", "--ablation", "oracle", "--values", "team", "bogus",
                                      "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="bogus"):
        reproduce_mpe.main()
