"""Reproduce the paper's MPE tables: {I-CQL, OMAR, MA-ICQ} x {team, MACCA} rewards, K seeds, markdown + curves.

Every run is ``macca_hub.algos.training.train_policy`` with ``resume=True``: finished runs are skipped, an
interrupted run continues from its checkpoint, so the full table (sized for a day of CPU) can be stopped and
restarted at will. MACCA runs use the ``pretrained`` paradigm by default (one causal reward model per dataset,
trained once and shared by every seed and backbone; ``--paradigm alternate`` trains it jointly per run, as
in the paper's Algorithm 1).

    python benchmarks/reproduce_mpe.py --quick                                  # minutes: cn, 1 seed, short runs
    python benchmarks/reproduce_mpe.py --tasks cn --qualities expert medium --methods omar macca-omar icql macca-icql --seeds 3
    python benchmarks/reproduce_mpe.py --ablation lambda1 --values 0.001 0.005 0.01     # MACCA-OMAR, lambda1 sweep
    python benchmarks/reproduce_mpe.py --ablation graph --values dynamic fixed full
    python benchmarks/reproduce_mpe.py --ablation oracle          # team vs team / n vs MACCA vs ground truth

Ablations: lambda1 (``lambda_state``), lambda2 (``lambda_action``), h (``threshold``), graph (dynamic / fixed /
full), paradigm (alternate / pretrained), oracle (team / team-scaled / macca / ground-truth rewards).
``team-scaled`` (method prefix ``scaled-``) is the scale-matched control: every agent learns from R_t / n, so its
reward has a per-agent magnitude, like MACCA's and the ground truth's, but no credit assignment.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from macca_hub.algos.training import PRECISIONS, TrainPolicyConfig, default_reward_scale, train_policy  # noqa: E402

ABLATIONS = {"lambda1": "lambda_state", "lambda2": "lambda_action", "h": "threshold", "graph": "graph",
             "paradigm": None, "oracle": None}
LABELS = {"icql": "I-CQL", "omar": "OMAR", "maicq": "MA-ICQ"}
#: The oracle ablation's arms and their method prefixes.
ORACLE_ARMS = {"team": "", "team-scaled": "scaled-", "macca": "macca-", "ground-truth": "gt-"}


def parse_method(method: str) -> tuple[str, str]:
    """``omar`` -> (omar, team); ``macca-omar`` -> (omar, macca); ``gt-omar`` -> (omar, ground-truth);
    ``scaled-omar`` -> (omar, team-scaled)."""
    for prefix, reward in (("macca-", "macca"), ("gt-", "ground-truth"), ("scaled-", "team-scaled")):
        if method.startswith(prefix):
            return method[len(prefix):], reward
    return method, "team"


def method_label(method: str) -> str:
    algo, reward = parse_method(method)
    base = LABELS.get(algo, algo)
    return {"team": base, "macca": f"MACCA-{base}", "ground-truth": f"{base} (ground truth)",
            "team-scaled": f"{base} (team / n)"}[reward]


def scale_matched(dataset: str) -> float:
    """The reward scale of the ``team-scaled`` control: train-policy's default, divided by the number of agents."""
    from macca_hub.data.loading import dataset_meta, load_columns

    info, _ = dataset_meta(dataset)
    team = load_columns(dataset, ["team_reward"])["team_reward"]
    return default_reward_scale(team) / int(info["n_agents"])


def reward_model_for(dataset: str, reward_args: dict[str, Any], args: argparse.Namespace, root: Path) -> str:
    """One causal reward model per (dataset, settings), trained once and reused (resumable by existence)."""
    from macca_hub.reward.training import RewardTrainingConfig, train_reward_model

    key = hashlib.sha256(json.dumps([dataset, reward_args, args.reward_steps, args.reward_batch_size],
                                    sort_keys=True).encode()).hexdigest()[:10]
    out = root / "reward_models" / f"{Path(dataset).name}-{key}"
    if not (out / "model.safetensors").is_file():
        train_reward_model(RewardTrainingConfig(dataset=dataset, output=str(out), steps=args.reward_steps,
                                                batch_size=args.reward_batch_size, seed=0,
                                                overwrite=True, progress=args.progress, num_threads=args.threads,
                                                checkpoint_every=0, **reward_args))
    return str(out)


def relabeled_for(dataset: str, model_dir: str, args: argparse.Namespace, root: Path) -> str:
    """``dataset`` relabelled once by ``model_dir`` (``macca-hub relabel``), shared by every seed and backbone."""
    from macca_hub.reward.relabel import relabel_dataset

    out = root / "relabeled" / Path(model_dir).name
    if not (out / "meta" / "info.json").is_file():
        relabel_dataset(dataset, model_dir, out, overwrite=True, progress=args.progress)
    return str(out)


def run_one(dataset: str, method: str, seed: int, out: Path, args: argparse.Namespace, root: Path,
            reward_args: dict[str, Any] | None = None, paradigm: str | None = None) -> dict[str, Any]:
    """One resumable run in ``out``; causal reward models and relabelled copies live under ``root`` (shared by
    every table and ablation that asks for the same dataset and settings)."""
    algo, reward = parse_method(method)
    paradigm = paradigm or args.paradigm
    reward_args = reward_args or {}
    reward_model, reward_scale = None, None
    train_on = dataset
    if reward == "team-scaled":
        reward, reward_scale = "team", scale_matched(dataset)
    if reward == "macca" and paradigm == "pretrained":  # the relabelled copy's macca_rewards column is the reward
        reward_model = reward_model_for(dataset, reward_args, args, root)
        train_on = relabeled_for(dataset, reward_model, args, root)
    cfg = TrainPolicyConfig(dataset=train_on, algo=algo, reward=reward, paradigm=paradigm, seed=seed,
                            reward_model=None, reward_args={} if reward_model else reward_args,
                            reward_scale=reward_scale, num_updates=args.num_updates, batch_size=args.batch_size,
                            eval_every=args.eval_every, eval_episodes=args.eval_episodes, checkpoint_every=args.checkpoint_every,
                            output=str(out), resume=True, num_threads=args.threads, progress=args.progress,
                            save_policy=True, max_transitions=args.max_transitions,
                            mixed_precision=args.mixed_precision)
    t = time.perf_counter()
    res = train_policy(cfg)
    score = res["final_score"]
    print(f"  {out.relative_to(root)}: final return {res['final_return']:.2f}"
          f"{f', score {score:.1f}' if score is not None else ''} ({time.perf_counter() - t:.0f} s)", flush=True)
    return res


def cell(results: list[dict[str, Any]]) -> str:
    if not results:
        return "-"
    key = "final_score" if all(r["final_score"] is not None for r in results) else "final_return"
    v = np.array([r[key] for r in results], dtype=float)
    return f"{v.mean():.1f} ± {v.std():.1f}" + ("" if key == "final_score" else " (return)")


def write_table(title: str, rows: dict[str, dict[str, list[dict]]], columns: list[str], out: Path) -> str:
    lines = [f"### {title}", "", "| dataset | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for row, by_col in rows.items():
        lines.append(f"| {row} | " + " | ".join(cell(by_col.get(c, [])) for c in columns) + " |")
    normalized = all(r["final_score"] is not None for by in rows.values() for rs in by.values() for r in rs)
    seeds = max((len(rs) for by in rows.values() for rs in by.values()), default=0)
    lines += ["", f"Mean ± std over {seeds} seed(s) of the final "
              + ("normalized score (100 = S_expert, 0 = S_random)." if normalized else
                 "episode return (raw: S_random / S_expert are not recorded for these datasets).")]
    text = "\n".join(lines)
    # Named after its datasets: runs on different datasets, side by side in one folder, keep their own tables.
    (out / f"table-{'+'.join(rows)}.md").write_text(text + "\n")
    return text


def plot(rows: dict[str, dict[str, list[dict]]], out: Path) -> None:
    from macca_hub.plots import learning_curves

    for row, by_col in rows.items():
        normalized = all(r["final_score"] is not None for rs in by_col.values() for r in rs)
        learning_curves({c: [r["curve"] for r in rs] for c, rs in by_col.items()},
                        out / f"curves-{row}.png", title=row, normalized=normalized)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", nargs="+", default=["cn"])
    p.add_argument("--qualities", nargs="+", default=["expert", "medium"])
    p.add_argument("--datasets", nargs="+", default=None, help="explicit dataset folders / repo ids (instead of tasks x qualities)")
    p.add_argument("--methods", nargs="+", default=["icql", "macca-icql", "omar", "macca-omar", "maicq", "macca-maicq"],
                   help="backbones (team reward), macca-<algo>, gt-<algo> (ground-truth oracle), scaled-<algo> "
                        "(team reward / n: the scale-matched control)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--num-updates", type=int, default=20_000)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--eval-every", type=int, default=1000)
    p.add_argument("--eval-episodes", type=int, default=10)
    p.add_argument("--checkpoint-every", type=int, default=2000)
    p.add_argument("--max-transitions", type=int, default=None)
    p.add_argument("--paradigm", default="pretrained", choices=["alternate", "pretrained"])
    p.add_argument("--reward-steps", type=int, default=5000, help="steps of each pretrained causal reward model")
    p.add_argument("--reward-batch-size", type=int, default=1024, help="batch size of each causal reward model")
    p.add_argument("--ablation", default=None, choices=sorted(ABLATIONS))
    p.add_argument("--values", nargs="+", default=None, help="values of the ablated setting")
    p.add_argument("--ablation-algo", default="omar", help="backbone of the ablation runs (default omar)")
    p.add_argument("--out", default=None, help="results folder (default: $MACCA_HUB_HOME/runs/reproduce)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (default 1)")
    p.add_argument("--mixed-precision", default="no", choices=list(PRECISIONS),
                   help="precision of the policy updates (train-policy --mixed-precision)")
    p.add_argument("--quick", action="store_true", help="minutes: 1 seed, 300 updates of batch 256, 5 episodes")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=False)
    args = p.parse_args()
    if not args.progress:
        import datasets

        datasets.disable_progress_bars()
    if args.quick:
        args.seeds, args.num_updates, args.batch_size, args.eval_every = 1, 300, 256, 100
        args.eval_episodes, args.reward_steps, args.checkpoint_every = 5, 300, 0
    from macca_hub.data.format import dataset_repo_id
    from macca_hub.hub import hub_home

    root = Path(args.out) if args.out else hub_home() / "runs" / "reproduce"
    datasets = args.datasets or [dataset_repo_id(t, q) for t in args.tasks for q in args.qualities]
    rows: dict[str, dict[str, list[dict]]] = {}
    if args.ablation is None:
        columns = [method_label(m) for m in args.methods]
        for ds in datasets:
            name = Path(ds).name
            rows[name] = {}
            for m in args.methods:
                for s in range(args.seeds):
                    res = run_one(ds, m, s, root / "main" / name / m / f"seed{s}", args, root)
                    rows[name].setdefault(method_label(m), []).append(res)
        folder = root / "main"
        title = "Final normalized score, " + ", ".join(rows)
    else:
        ab = args.ablation
        if ab == "oracle":
            values = args.values or list(ORACLE_ARMS)
            if set(values) - set(ORACLE_ARMS):
                raise SystemExit(f"--ablation oracle takes --values among {list(ORACLE_ARMS)}, got {values}")
        elif ab == "paradigm":
            values = args.values or ["alternate", "pretrained"]
        else:
            if not args.values:
                raise SystemExit(f"--ablation {ab} needs --values")
            values = args.values
        columns = [f"{ab}={v}" for v in values]
        algo = args.ablation_algo
        folder = root / f"ablation-{ab}" / algo
        for ds in datasets:
            name = Path(ds).name
            rows[name] = {}
            for v in values:
                for s in range(args.seeds):
                    out = folder / name / str(v) / f"seed{s}"
                    if ab == "oracle":
                        res = run_one(ds, f"{ORACLE_ARMS[v]}{algo}", s, out, args, root)
                    elif ab == "paradigm":
                        res = run_one(ds, f"macca-{algo}", s, out, args, root, paradigm=v)
                    else:
                        val: Any = v if ab == "graph" else float(v)
                        res = run_one(ds, f"macca-{algo}", s, out, args, root, reward_args={ABLATIONS[ab]: val})
                    rows[name].setdefault(f"{ab}={v}", []).append(res)
        subject = LABELS.get(algo, algo) if ab == "oracle" else f"MACCA-{LABELS.get(algo, algo)}"
        title = f"Ablation {ab} ({subject}), " + ", ".join(rows)
    folder.mkdir(parents=True, exist_ok=True)
    print()
    print(write_table(title, rows, columns, folder))
    plot(rows, folder)
    print(f"\ntable and learning curves in {folder}")


if __name__ == "__main__":
    main()
