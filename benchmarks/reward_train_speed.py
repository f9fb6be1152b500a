"""Training throughput (samples per second) of the causal reward model on CPU, against its matmul-bound rate.

One training step costs about 3x the forward FLOPs (forward + backward for inputs and weights);
the yardstick is a plain fp32 matmul timed in the same run with the same threads. The step timed
is the one ``train_reward_model`` runs (batch sampling, forward, loss, ``accelerator.backward``,
Adam), through ``Accelerator(cpu=True)``.

    python benchmarks/reward_train_speed.py --steps 50 --threads 1
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _yardstick import matmul_flops  # benchmarks/ is on sys.path when run as a script


def main() -> None:
    from accelerate import Accelerator

    from macca_hub.reward import CausalRewardConfig, CausalRewardModel
    from macca_hub.reward.training import sample_indices

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rows", type=int, default=50_000, help="in-memory training rows (cn shapes: 3 x 18, act 2)")
    args = parser.parse_args()

    peak = matmul_flops(args.threads)
    rng = np.random.default_rng(0)
    obs = torch.from_numpy(rng.normal(size=(args.rows, 3, 18)).astype(np.float32))
    act = torch.from_numpy(rng.uniform(-1, 1, size=(args.rows, 3, 2)).astype(np.float32))
    team = obs[:, :, 0].sum(1) + act[:, :, 0].sum(1)
    print(f"batch {args.batch_size}, threads {args.threads}, plain matmul {peak / 1e9:.1f} GFLOP/s")
    for graph in ("dynamic", "fixed", "full"):
        torch.manual_seed(0)
        accelerator = Accelerator(cpu=True)
        model = CausalRewardModel(CausalRewardConfig(n_agents=3, obs_dim=18, act_dim=2, graph=graph))
        opt = torch.optim.Adam(model.parameters(), lr=3e-4)
        model, opt = accelerator.prepare(model, opt)
        model.train()

        def step(i: int) -> None:
            idx = torch.from_numpy(sample_indices(0, i, 0, args.batch_size, args.rows))
            loss, _ = accelerator.unwrap_model(model).loss_from_outputs(model(obs[idx], act[idx]), team[idx])
            opt.zero_grad(set_to_none=True)
            accelerator.backward(loss)
            opt.step()

        for i in range(3):
            step(i)
        t = time.perf_counter()
        for i in range(args.steps):
            step(i)
        rate = args.steps * args.batch_size / (time.perf_counter() - t)
        theory = peak / (3 * accelerator.unwrap_model(model).flops_per_row())
        print(f"{graph:8s} {rate:10,.0f} samples/s   matmul-bound {theory:10,.0f} samples/s   ratio {rate / theory:.2f}")


if __name__ == "__main__":
    main()
