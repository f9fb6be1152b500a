"""Rows per second of ``ds.map(model.relabel, batched=True)`` against the model's matmul-bound rate.

The theoretical rate is (a plain fp32 matmul's FLOP/s, measured here in the same run with the same
threads) / (the causal reward model's FLOPs per row). The target is at least half of it for
``ds.with_format("arrow").map`` with a large batch (the numpy format is printed too: it pays for
turning nested lists into arrays). Also printed: the bare model call (no datasets) and
``relabel_dataset`` (the streaming parquet writer behind ``macca-hub relabel``).

    python benchmarks/relabel_speed.py --rows 100000 --threads 1
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
from _yardstick import matmul_flops  # benchmarks/ is on sys.path when run as a script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the synthetic cn-shaped dataset")
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both the yardstick and the model")
    parser.add_argument("--graph", default="dynamic", choices=["dynamic", "fixed", "full"])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["HF_DATASETS_CACHE"] = str(Path(tmp) / "cache")
        import datasets

        from macca_hub.data.loading import dataset_meta, load_dataset
        from macca_hub.reward import CausalRewardConfig, CausalRewardModel
        from macca_hub.data.loading import load_columns
        from macca_hub.reward.relabel import relabel_dataset
        from macca_hub.reward.synthetic import write_synthetic_dataset

        datasets.disable_progress_bars()
        folder = write_synthetic_dataset(Path(tmp) / "ds", episodes=args.rows // 25, obs_dim=18, act_dim=2,
                                         episodes_per_shard=2000)
        info, stats = dataset_meta(folder)
        torch.manual_seed(0)
        model = CausalRewardModel(CausalRewardConfig(n_agents=3, obs_dim=18, act_dim=2, graph=args.graph, mask_init=0.3))
        model.set_normalization(stats)
        model.eval()
        flops_row = model.flops_per_row()
        peak = matmul_flops(args.threads)
        theory = peak / flops_row

        cols = load_columns(folder, ["observations", "actions"])
        obs, act = torch.from_numpy(cols["observations"]), torch.from_numpy(cols["actions"])
        with torch.inference_mode():
            model.rewards(obs[:args.batch_size], act[:args.batch_size])
            t = time.perf_counter()
            for lo in range(0, len(obs), args.batch_size):
                model.rewards(obs[lo:lo + args.batch_size], act[lo:lo + args.batch_size])
            bare = len(obs) / (time.perf_counter() - t)

        ds = load_dataset(folder)
        map_rate = {}
        for fmt in ("arrow", "numpy"):
            t = time.perf_counter()
            mapped = ds.with_format(fmt).map(model.relabel, batched=True, batch_size=args.batch_size,
                                             load_from_cache_file=False)
            map_rate[fmt] = len(ds) / (time.perf_counter() - t)
            assert mapped.num_rows == len(ds)

        t = time.perf_counter()
        relabel_dataset(folder, model, Path(tmp) / "relabeled", batch_size=args.batch_size, progress=False)
        stream_rate = len(ds) / (time.perf_counter() - t)

    print(f"rows {len(obs)}, batch {args.batch_size}, threads {args.threads}, graph {args.graph}")
    print(f"model FLOPs per row           {flops_row / 1e6:.3f} MFLOP")
    print(f"plain matmul (4096x256x256)   {peak / 1e9:.1f} GFLOP/s  -> theoretical {theory:,.0f} rows/s")
    print(f"bare model call               {bare:,.0f} rows/s  ({bare / theory:.2f} of theoretical)")
    for fmt, rate in map_rate.items():
        print(f"ds.with_format({fmt!r}).map(relabel, batched=True) {rate:,.0f} rows/s  ({rate / theory:.2f} of theoretical"
              f"{'; target >= 0.5' if fmt == 'arrow' else ''})")
    print(f"relabel_dataset (streaming)   {stream_rate:,.0f} rows/s  ({stream_rate / theory:.2f} of theoretical)")


if __name__ == "__main__":
    main()
