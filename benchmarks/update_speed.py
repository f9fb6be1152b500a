"""Rounds per second of each offline MARL backbone on cn, next to a per-agent-loop implementation timed in the same run.

A round = one gradient step of every agent's critics and actor, sampling from the dataset included
(3 agents, batch 1024, 64-unit networks). ``+macca`` adds MACCA's causal step (alternate paradigm: one
step of the causal reward model on the batch, then relabelling it); ``causal`` times that step alone.
The loop baseline has the structure of the public reference code (one small network per agent and
critic, a Python loop over agents, ``np.random.choice(N, batch, replace=False)`` per agent);
``benchmarks/loop_baseline.py``. MACCA's reference repository holds only a README (no code), so its
figure's workload is unknown; here the causal model has the sizes of the issue (psi_r 3 x 256).

Reference figures (public code on a 2-core machine, 2 torch threads): OMAR 7.4 rounds/s, plain CQL
9.5 rounds/s, MACCA causal_omar 6.1 rounds/s; the target is >= 5x each.

    python benchmarks/update_speed.py                       # 2 threads, synthetic 1M-row cn-shaped data
    python benchmarks/update_speed.py --dataset macca/mpe-cn-expert --rounds 10
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.loop_baseline import LoopICQL, loop_round  # noqa: E402
from macca_hub.algos import make_algorithm  # noqa: E402
from macca_hub.algos.training import TrainingData, causal_step, update_round  # noqa: E402
from macca_hub.utils.memory import keep_freed_memory  # noqa: E402
from macca_hub.utils.optim import adam  # noqa: E402

REFERENCE = {"icql": 9.5, "omar": 7.4, "omar+macca": 6.1}


def load(dataset: str | None, size: int) -> dict[str, np.ndarray]:
    if dataset:
        from macca_hub.data.loading import load_columns

        return load_columns(dataset, ["episode_index", "step", "observations", "actions", "team_reward",
                                      "next_observations", "terminated"])
    rng = np.random.default_rng(0)
    n, o = 3, 18
    return {"episode_index": np.arange(size) // 25, "step": (np.arange(size) % 25).astype(np.int32),
            "observations": rng.normal(size=(size, n, o)).astype(np.float32),
            "actions": rng.uniform(-1, 1, (size, n, 2)).astype(np.float32),
            "team_reward": rng.normal(size=size).astype(np.float32),
            "next_observations": rng.normal(size=(size, n, o)).astype(np.float32),
            "terminated": np.zeros(size, bool)}


def causal_model(stats_from: dict[str, np.ndarray]):
    from macca_hub.reward.configuration_causal_reward import CausalRewardConfig
    from macca_hub.reward.modeling_causal_reward import CausalRewardModel

    model = CausalRewardModel(CausalRewardConfig(n_agents=3, obs_dim=18, act_dim=2))
    obs, act, r = stats_from["observations"][:50_000], stats_from["actions"][:50_000], stats_from["team_reward"][:50_000]
    model.set_normalization({"observations": {"mean": obs.mean(0).ravel(), "std": obs.std(0).ravel()},
                             "actions": {"mean": act.mean(0).ravel(), "std": act.std(0).ravel()},
                             "team_reward": {"mean": float(r.mean()), "std": float(r.std())}})
    return model.train(), adam(model.parameters(), 3e-4)


def batched_runner(name: str, cols: dict[str, np.ndarray], batch: int, macca: bool, bf16: bool = False):
    """A round exactly as ``train-policy`` runs it (``update_round``), in float32 or under bf16 autocast."""
    data = TrainingData(cols, None, torch.device("cpu"))
    model, opt = causal_model(cols) if macca or name == "causal" else (None, None)
    if name == "causal":  # MACCA's causal step alone (update + relabel), as train-policy runs it
        def step() -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                causal_step(data, data.sample(batch, torch.device("cpu")), model, opt)

        return step
    algo = make_algorithm(name, 3, 18, 2, task="cn", quality="expert")

    def round_() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            update_round(algo, data, data.sample(batch, torch.device("cpu")), model, opt)

    return round_


def loop_runner(name: str, cols: dict[str, np.ndarray], batch: int, macca: bool):
    algo = LoopICQL(3, 18, 2, omar=name == "omar")
    causal = causal_model(cols) if macca else None
    return lambda: loop_round(algo, cols, batch, causal)


def matmul_floor_runner(name: str, batch: int, macca: bool = False, dtype: torch.dtype = torch.float32,
                        n: int = 3, hidden: int = 64, cql_samples: int = 10, iters: int = 3, samples: int = 10):
    """Only the hidden-layer matmuls one round of ``name`` cannot avoid, at full efficiency, in ``dtype``.

    Every implementation of the same estimator must run at least these: the critics' forward and both
    backward products on the data and CQL rows of both critics of every agent, the target critics on the
    next observations, the actor and its Q_1 pass (input gradient only), and for OMAR the Q_1 forward
    passes of the zeroth-order search. With ``macca`` also the causal reward model's (default sizes: psi_r
    3 x 256, psi_g 2 x 256, on 3 agents x B rows): its forward, both backward products and the forward
    that relabels the batch, every layer but the input layers' input gradients. Timed as single contiguous
    ``bmm`` calls (no bias, no activations, no sampling), so ``1 / time`` bounds the rounds/s of any
    implementation on this machine from above.
    """
    m = 2 * n  # twin critics of every agent
    critic_rows, search_rows = batch * (1 + cql_samples), batch * iters * samples if name == "omar" else 0
    mats = []

    def add(members: int, rows: int, products: int, k: int = hidden, out: int = hidden) -> None:
        for _ in range(products):
            mats.append((torch.randn(members, rows, k, dtype=dtype), torch.randn(members, k, out, dtype=dtype)))

    macca = macca or name == "causal"  # "causal": the causal model's matmuls only
    if name != "causal":
        add(m, critic_rows, 3)  # critic forward, grad of input, grad of weight
        add(m, batch, 1)  # target critics (no grad)
        add(n, batch, 3 + 2)  # actor forward + backward, its Q_1 pass forward + input gradient
    if search_rows:
        add(n, search_rows, 1)
    if name == "maicq":  # MA-ICQ has no CQL samples: the critics see only the data rows
        mats = [(x[:, :batch] if x.shape[1] == critic_rows else x, w) for x, w in mats]
    if macca:
        d, wide, rows = n * 18 + n * 2, 256, n * batch
        add(1, rows, 3 * 2 + 1, wide, wide)  # psi_r's two 256x256 layers: forward, 2 backward, relabel forward
        add(1, rows, 3 * 2 + 1, wide, wide)
        add(1, rows, 2 + 1, d, wide)  # psi_r input layer (forward, weight grad, relabel)
        add(1, rows, 3 + 1, wide, wide)  # psi_g's 256x256 layer
        add(1, rows, 3 + 1, wide, d)  # psi_g's output layer (mask logits)
        add(1, batch, 2 + 1, d, wide)  # psi_g's input layer, shared by the agents

    def round_() -> None:
        for x, w in mats:
            torch.bmm(x, w)

    return round_


def rounds_per_s(fn, rounds: int) -> float:
    t = time.perf_counter()
    for _ in range(rounds):
        fn()
    return rounds / (time.perf_counter() - t)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2, as the reference figures)")
    p.add_argument("--rounds", type=int, default=10, help="rounds per timing (default 10)")
    p.add_argument("--repeats", type=int, default=3, help="interleaved timings per implementation; medians reported")
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--size", type=int, default=1_000_000, help="rows of the synthetic cn-shaped dataset")
    p.add_argument("--dataset", default=None, help="time on a real dataset instead (folder or repo id)")
    p.add_argument("--algos", nargs="+", default=["icql", "omar", "omar+macca", "causal", "maicq"],
                   help="backbones to time; NAME+macca adds MACCA's causal step, 'causal' times that step alone")
    p.add_argument("--default-allocator", action="store_true",
                   help="leave glibc's malloc thresholds as they are (train-policy raises them: "
                        "macca_hub.utils.memory), to measure what that is worth")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    kept = False if args.default_allocator else keep_freed_memory()
    torch.manual_seed(0)
    np.random.seed(0)
    cols = load(args.dataset, args.size)
    print(f"cn: {len(cols['team_reward'])} rows, 3 agents, batch {args.batch_size}, 64 hidden units, "
          f"{args.threads} torch thread(s), {args.rounds} rounds x {args.repeats} interleaved repeats, "
          f"freed memory {'kept in the heap' if kept else 'returned to the kernel (glibc default)'}; "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}")
    rows = []
    for spec in args.algos:
        name, macca = spec.split("+")[0], spec.endswith("+macca")
        runners = {"fp32": batched_runner(name, cols, args.batch_size, macca),
                   "bf16": batched_runner(name, cols, args.batch_size, macca, bf16=True),
                   "bound fp32": matmul_floor_runner(name, args.batch_size, macca),
                   "bound bf16": matmul_floor_runner(name, args.batch_size, macca, torch.bfloat16)}
        if name in ("icql", "omar"):
            runners["loop"] = loop_runner(name, cols, args.batch_size, macca)
        for fn in runners.values():
            fn()  # warm-up
        times: dict[str, list[float]] = {k: [] for k in runners}
        for _ in range(args.repeats):
            for key, fn in runners.items():
                times[key].append(rounds_per_s(fn, args.rounds))
        r = {k: statistics.median(v) for k, v in times.items()}
        rows.append((spec, r, REFERENCE.get(spec)))
        lp = r.get("loop")
        print(f"  {spec:<11} fp32 {r['fp32']:6.2f} | bf16 {r['bf16']:6.2f} | per-agent loop "
              f"{lp if lp else float('nan'):6.2f} rounds/s | ratios {r['fp32'] / lp if lp else float('nan'):4.2f}x / "
              f"{r['bf16'] / lp if lp else float('nan'):4.2f}x | matmul bound {r['bound fp32']:6.1f} / "
              f"{r['bound bf16']:6.1f} rounds/s", flush=True)
    print()
    print("| algorithm | fp32 (rounds/s) | bf16 autocast (rounds/s) | per-agent loop, fp32, same run | fp32 / loop | "
          "bf16 / loop | matmul bound fp32 / bf16 | reference figure | 5x reference | bf16 / reference |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for spec, r, ref in rows:
        lp = r.get("loop")
        ratio = (lambda x: f"{x / lp:.2f}x") if lp else (lambda x: "n/a")
        vs_ref = f"{r['bf16'] / ref:.2f}x" if ref else "n/a"
        print(f"| {spec} | {r['fp32']:.2f} | {r['bf16']:.2f} | {f'{lp:.2f}' if lp else 'n/a'} | {ratio(r['fp32'])} | "
              f"{ratio(r['bf16'])} | {r['bound fp32']:.1f} / {r['bound bf16']:.1f} | {ref if ref else 'n/a'} | "
              f"{5 * ref if ref else 'n/a'} | {vs_ref} |")
    rates = {spec: r for spec, r, _ in rows}
    if {"omar", "causal"} <= set(rates) and "omar+macca" in REFERENCE:
        budget = 1e3 / (5 * REFERENCE["omar+macca"])
        for key in ("fp32", "bf16"):
            omar_ms, causal_ms = 1e3 / rates["omar"][key], 1e3 / rates["causal"][key]
            print(f"\nMACCA-OMAR at 5x its reference needs <= {budget:.1f} ms a round; {key}: OMAR's round "
                  f"{omar_ms:.1f} ms + the causal step {causal_ms:.1f} ms = {omar_ms + causal_ms:.1f} ms "
                  f"(the causal step's matmuls alone: {1e3 / rates['causal']['bound ' + key]:.1f} ms)", end="")
        print()
    print("\nmatmul bound: only the matmuls a round of the same estimator must run (with +macca the causal model's "
          "too), timed alone in this run in that dtype; no implementation on this machine can exceed it.")


if __name__ == "__main__":
    main()
