"""Pick the random / medium / expert snapshots of a MATD3 run and ship them inside the package.

Every team snapshot is evaluated against the run's *final* opponent (frozen, shipped as
``<task>-prey`` / ``<task>-good``), with the collection noise of the datasets:

- random = the step-0 snapshot (the randomly initialised actor of the same architecture);
- expert = the snapshot with the highest mean return;
- medium = the snapshot before the expert whose normalized score (against those two) is closest to 50;
- medium-replay = the run's logged actions of every episode until the medium snapshot's step
  (``replay.npz``), which ``macca-hub build <task> --quality medium-replay`` re-simulates exactly.

``python -m dataset_builders.export --task cn --run /work/runs/matd3-cn``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from dataset_builders.matd3 import evaluate
from dataset_builders.policies import MLPActor
from macca_hub.tasks import make_task
from macca_hub.utils.io import atomic_directory, read_json, write_json

COLLECTION_NOISE = 0.1  # Gaussian std added to every learned behaviour policy's actions while collecting
OPPONENT_ROLE = {"pp": "prey", "world": "good"}
ASSETS = Path(__file__).resolve().parents[1] / "macca_hub" / "assets" / "policies"


def _ship(actor: MLPActor, role: str, extra: dict[str, Any], dest: Path) -> Path:
    cfg = dataclasses.replace(actor.config, role=role, training={**actor.config.training, **extra})
    model = MLPActor(cfg)
    model.load_state_dict(actor.state_dict())
    return model.save_pretrained(dest / f"{cfg.task}-{role}")


def ship_replay(task_name: str, run: Path, until_step: int, dest: Path = ASSETS) -> Path:
    """Ship the run's action log from its first step until ``until_step`` as ``<task>-medium-replay``."""
    cfg = read_json(run / "config.json")
    n_ep = until_step // 25
    with np.load(run / "actions.npz") as log, \
            atomic_directory(dest / f"{task_name}-medium-replay", overwrite=True) as tmp:
        arrays = {"team_actions": log["team_actions"][:n_ep]}
        if "opponent_actions" in log.files:
            arrays["opponent_actions"] = log["opponent_actions"][:n_ep]
        np.savez_compressed(tmp / "replay.npz", **arrays)
        write_json(tmp / "config.json", {
            "kind": "replay", "task": task_name, "episodes": n_ep, "transitions": n_ep * 25, "train_seed": cfg["seed"],
            "until_step": until_step, "doc": "every action applied in the MATD3 run (team and co-trained opponents, "
            "exploration included) from its first step until the medium snapshot; episode e was reset with "
            "episode_seed(train_seed, e)", "training": cfg})
    return dest / f"{task_name}-medium-replay"


def export(task_name: str, run: Path, episodes: int = 50, dest: Path = ASSETS, every: int = 1) -> dict[str, Any]:
    """Evaluate the snapshots of ``run``, ship the chosen ones to ``dest``; returns the selection record."""
    snaps = sorted((run / "snapshots").glob("step_*"))
    if not snaps:
        raise FileNotFoundError(f"{run} has no snapshots/; train first with `macca-hub train-behaviour {task_name}`.")
    snaps = [s for i, s in enumerate(snaps) if i % every == 0 or s == snaps[-1]]
    final = snaps[-1]
    opp = MLPActor.from_pretrained(final / "opponent") if (final / "opponent").is_dir() else None
    task = make_task(task_name, opponent_policy=(lambda o: np.zeros((len(o), 2))))
    rows = []
    for s in snaps:
        actor = MLPActor.from_pretrained(s / "team")
        ev = evaluate(task, actor.net, opp.net if opp is not None else None, episodes, 20_000, COLLECTION_NOISE)
        rows.append({"step": int(s.name.split("_")[1]), **ev})
        print(json.dumps(rows[-1]), flush=True)
    s_random = rows[0]["return_mean"]
    best = max(range(len(rows)), key=lambda i: rows[i]["return_mean"])
    s_expert = rows[best]["return_mean"]
    for r in rows:
        r["normalized"] = 100 * (r["return_mean"] - s_random) / (s_expert - s_random)
    med = min(range(1, best), key=lambda i: abs(rows[i]["normalized"] - 50), default=None)
    if med is None:
        raise ValueError(f"{run}: no snapshot between random and expert; save snapshots more often.")
    record = {"task": task_name, "run": str(run), "episodes": episodes, "noise_std": COLLECTION_NOISE,
              "random_step": rows[0]["step"], "medium_step": rows[med]["step"], "expert_step": rows[best]["step"],
              "evaluation": rows}
    for role, i in (("random", 0), ("medium", med), ("expert", best)):
        actor = MLPActor.from_pretrained(snaps[i] / "team")
        _ship(actor, role, {"selection": {k: rows[i][k] for k in ("return_mean", "normalized")},
                            "collection_noise_std": COLLECTION_NOISE}, dest)
    if opp is not None:
        _ship(opp, OPPONENT_ROLE[task_name], {"frozen_at_step": rows[-1]["step"]}, dest)
    ship_replay(task_name, run, rows[med]["step"], dest)
    write_json(dest / f"{task_name}-selection.json", record)
    return record


def refine_medium(task_name: str, run: Path, steps: list[int], s_random: float, s_expert: float,
                  episodes: int = 200, dest: Path = ASSETS) -> dict[str, Any]:
    """Re-evaluate candidate medium snapshots on more episodes (against the task's frozen opponent) and
    ship the one whose normalized score against the measured S_random / S_expert is closest to 50."""
    task = make_task(task_name)
    rows = []
    for step in steps:
        actor = MLPActor.from_pretrained(run / "snapshots" / f"step_{step:07d}" / "team")
        ev = evaluate(task, actor.net, None, episodes, 30_000, COLLECTION_NOISE)
        rows.append({"step": step, **ev, "normalized": 100 * (ev["return_mean"] - s_random) / (s_expert - s_random)})
        print(json.dumps(rows[-1]), flush=True)
    best = min(rows, key=lambda r: abs(r["normalized"] - 50))
    actor = MLPActor.from_pretrained(run / "snapshots" / f"step_{best['step']:07d}" / "team")
    _ship(actor, "medium", {"selection": {"return_mean": best["return_mean"], "normalized": best["normalized"],
                                          "refined_over": steps, "episodes": episodes},
                            "collection_noise_std": COLLECTION_NOISE}, dest)
    ship_replay(task_name, run, best["step"], dest)
    record = read_json(dest / f"{task_name}-selection.json")
    record.update(medium_step=best["step"], medium_refinement=rows)
    write_json(dest / f"{task_name}-selection.json", record)
    return best


def annotate(task_name: str, command: str, wall_time_s: float, dest: Path = ASSETS) -> None:
    """Record the exact command that reproduces a run and its wall time in every shipped config of the task."""
    from macca_hub.utils.io import read_json

    for folder in sorted(dest.glob(f"{task_name}-*")):
        if (folder / "config.json").is_file():
            cfg = read_json(folder / "config.json")
            cfg.setdefault("training", {}).update(reproduce=command, wall_time_s=round(wall_time_s))
            write_json(folder / "config.json", cfg)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", required=True, choices=["cn", "pp", "world"])
    p.add_argument("--run", required=True, help="MATD3 run folder")
    p.add_argument("--episodes", type=int, default=50, help="evaluation episodes per snapshot")
    p.add_argument("--every", type=int, default=1, help="evaluate every k-th snapshot (the last always)")
    p.add_argument("--command", default=None, help="exact training command to record in the shipped configs")
    p.add_argument("--wall-time", type=float, default=None, help="wall time of the training run, seconds")
    p.add_argument("--refine-medium", type=int, nargs="+", default=None,
                   help="instead of a full export: re-evaluate these snapshot steps on 200 episodes against the "
                        "measured S_random/S_expert (scores.json) and ship the one closest to normalized 50 as medium")
    a = p.parse_args(argv)
    if a.refine_medium:
        from macca_hub.scores import reference_scores

        refs = reference_scores()[a.task]
        print(refine_medium(a.task, Path(a.run), a.refine_medium, refs["s_random"], refs["s_expert"]))
    else:
        rec = export(a.task, Path(a.run), a.episodes, every=a.every)
        print({k: v for k, v in rec.items() if k != "evaluation"})
    if a.command:
        annotate(a.task, a.command, a.wall_time or 0.0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
