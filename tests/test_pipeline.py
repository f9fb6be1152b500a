"""The README's main job (``macca-hub quickstart``) end to end at a tiny size."""

from __future__ import annotations

import math
from pathlib import Path

from macca_hub.algos.pipeline import MainJobConfig, run_main_job


def test_main_job_runs_every_stage(tmp_path: Path, hub_root: Path, capsys) -> None:
    import datasets

    datasets.enable_progress_bars()
    out = run_main_job(MainJobConfig(workdir=str(tmp_path / "job"), num_transitions=500, reward_steps=20,
                                     reward_batch_size=64, policy_updates=10, batch_size=64, eval_every=10,
                                     eval_episodes=1, num_threads=1, progress=False))
    printed = capsys.readouterr().out
    for stage in ("[1/5]", "[2/5]", "[3/5]", "[4/5]", "[5/5]", "| MACCA-OMAR |", "| OMAR (team reward) |"):
        assert stage in printed, stage
    assert "rows, columns ['terminated', 'truncated', 'macca_rewards']" in printed  # relabel keeps every column
    assert Path(out["dataset"], "meta", "info.json").is_file()
    for method in ("omar", "macca-omar"):
        assert math.isfinite(out[method]["final_return"]) and math.isfinite(out[method]["final_score"])
    assert math.isfinite(out["fidelity"]["team_r2"]) and len(out["fidelity"]["agent_pearson"]) == 3
    assert "team reward R^2" in printed
    assert (tmp_path / "job" / "runs" / "macca-omar").is_dir()
    assert datasets.is_progress_bar_enabled()  # progress=False silenced the job only, not the process
