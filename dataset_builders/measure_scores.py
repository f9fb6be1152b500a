"""Measure the reference scores S_random / S_expert of each task and write ``macca_hub/assets/scores.json``.

A score is the mean episode return of a shipped behaviour policy (with the collection noise of its
datasets) against the task's frozen opponent, over ``--episodes`` (>= 500) episodes. The episode
return of the team is the mean over team agents of each agent's summed individual rewards, so all
scores are on a per-agent scale. The medium policy is measured too (its normalized score must lie
in [40, 60]), together with the quality indicators: cn landmarks occupied at the last step
(distance < 0.1) and collisions per episode (also split by whether the landmarks lie apart, where no
contact is needed); pp / world captures (steps x opponents in contact).

``python -m dataset_builders.measure_scores --tasks cn pp world --episodes 500``
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

ASSET = Path(__file__).resolve().parents[1] / "macca_hub" / "assets" / "scores.json"
ROLES = ("random", "medium", "expert")


def _eval_range(task_name: str, role: str, seed: int, start: int, stop: int) -> dict[str, Any]:
    """Evaluate episodes ``[start, stop)`` of a shipped policy; per-episode returns and summed metrics."""
    import torch

    torch.set_num_threads(1)
    from dataset_builders.matd3 import rollout
    from dataset_builders.policies import MLPPolicy, shipped_policy_dir
    from dataset_builders.recipes import COLLECTION_NOISE
    from macca_hub.tasks import make_task

    task = make_task(task_name)
    policy = MLPPolicy(shipped_policy_dir(f"{task_name}-{role}"))
    rets, sums = rollout(task, policy.act, seed, range(start, stop), COLLECTION_NOISE)
    return {"returns": rets, "sums": sums}


def measure(task_name: str, episodes: int = 500, seed: int = 1_000, workers: int = 2) -> dict[str, Any]:
    """Scores and quality indicators of the random / medium / expert policies of one task."""
    out: dict[str, Any] = {}
    half = (episodes + 1) // 2
    ranges = [(0, half), (half, episodes)] if workers > 1 else [(0, episodes)]
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        for role in ROLES:
            t0 = time.time()
            parts = list(pool.map(_eval_range, *zip(*[(task_name, role, seed, a, b) for a, b in ranges])))
            rets = np.concatenate([p["returns"] for p in parts])
            sums: dict[str, float] = {}
            for p in parts:
                for k, v in p["sums"].items():
                    sums[k] = sums.get(k, 0.0) + v
            out[role] = {"return_mean": float(rets.mean()), "return_std": float(rets.std()),
                         "return_min": float(rets.min()), "return_max": float(rets.max()), "episodes": int(len(rets)),
                         **{f"{k}_per_episode": v / len(rets) for k, v in sums.items()},
                         "seconds": round(time.time() - t0, 1)}
    s_r, s_e = out["random"]["return_mean"], out["expert"]["return_mean"]
    for role in ROLES:
        out[role]["normalized"] = 100 * (out[role]["return_mean"] - s_r) / (s_e - s_r)
    return out


def cn_collision_breakdown(role: str, episodes: int = 500, seed: int = 1_000, settle: int = 3,
                           apart: float = 0.5) -> dict[str, float]:
    """Where a cn policy collides: episodes whose landmarks are all ``apart`` or more from each other
    (every landmark can be covered without contact) vs episodes with two landmarks closer than that
    (covering both forces or invites contact; the reward's coverage term outweighs the -5 penalty).
    Contacts of the first ``settle`` steps are left out: agents can spawn overlapping.
    """
    import torch

    torch.set_num_threads(1)
    from dataset_builders.policies import MLPPolicy, shipped_policy_dir
    from dataset_builders.recipes import COLLECTION_NOISE
    from macca_hub.tasks import MPETask, episode_seed, make_task

    task = make_task("cn")
    policy = MLPPolicy(shipped_policy_dir(f"cn-{role}"))
    close, counts = [], []
    for e in range(episodes):
        eseed = episode_seed(seed, e)
        rng = np.random.default_rng([eseed, 1])
        obs, _ = task.reset(eseed)
        lm = MPETask._positions(task.world.landmarks)
        d = np.linalg.norm(lm[:, None] - lm[None], axis=-1)[np.triu_indices(len(lm), 1)]
        close.append(bool(d.min() < apart))
        c = 0.0
        for t in range(task.max_steps):
            a = policy.act(obs) + rng.normal(0.0, COLLECTION_NOISE, size=(task.spec.n_agents, 2))
            obs = task.step(np.clip(a, -1, 1).astype(np.float32)).observations
            c += float(task.team_contacts().sum() / 2) * (t >= settle)
        counts.append(c)
    cl, cnt = np.array(close), np.array(counts)
    return {"collisions_after_settle": float(cnt.mean()), "landmarks_close_share": float(cl.mean()),
            "collisions_landmarks_close": float(cnt[cl].mean()), "collisions_landmarks_apart": float(cnt[~cl].mean()),
            "collision_free_landmarks_apart": float((cnt[~cl] == 0).mean())}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", default=["cn", "pp", "world"])
    p.add_argument("--episodes", type=int, default=500, help="episodes per policy (at least 500 for published scores)")
    p.add_argument("--seed", type=int, default=1_000, help="evaluation seed (disjoint from the datasets' seed 0)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--output", default=str(ASSET), help="scores.json to update")
    a = p.parse_args(argv)
    path = Path(a.output)
    scores = json.loads(path.read_text()) if path.is_file() else {}
    for task in a.tasks:
        m = measure(task, a.episodes, a.seed, a.workers)
        if task == "cn":
            for role in ROLES:
                m[role]["collision_breakdown"] = cn_collision_breakdown(role, a.episodes, a.seed)
        scores[task] = {"s_random": m["random"]["return_mean"], "s_expert": m["expert"]["return_mean"],
                        "episodes": a.episodes, "seed": a.seed, "noise_std": 0.1,
                        "return": "mean over team agents of each agent's summed individual (macca) rewards",
                        "policies": {r: f"{task}-{r}" for r in ROLES}, "measured": m}
        print(task, json.dumps(m, indent=1), flush=True)
        path.write_text(json.dumps(scores, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
