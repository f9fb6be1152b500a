"""What the olah mirror costs: ``datasets.load_dataset`` through ``macca-hub serve`` vs from the local folder.

Both loads run in fresh subprocesses with empty caches, in the same run, so the ratio holds on a
noisy machine. Also timed: the git export of the local root (first time and unchanged re-export)
and olah's start-up. The dataset is the one at ``--root`` (built with the uniform policy if absent).

    python benchmarks/mirror_load.py --transitions 100000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LOAD = r"""
import sys, time
import datasets
t = time.perf_counter()
ds = datasets.load_dataset(sys.argv[1], split="train")
print(f"SECONDS {time.perf_counter() - t:.3f} ROWS {ds.num_rows}")
"""


def timed_load(target: str, env: dict[str, str]) -> tuple[float, int]:
    out = subprocess.run([sys.executable, "-c", LOAD, target], env=env, capture_output=True, text=True, check=True)
    line = next(line for line in out.stdout.splitlines() if line.startswith("SECONDS"))
    _, seconds, _, rows = line.split()
    return float(seconds), int(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transitions", type=int, default=100_000, help="size of the cn dataset to build if absent")
    parser.add_argument("--root", default=None, help="local root (default: a temporary one)")
    args = parser.parse_args()
    root = Path(args.root or tempfile.mkdtemp(prefix="macca-bench-root-"))
    os.environ["MACCA_HUB_HOME"] = str(root)
    from macca_hub.hub import local_repo_path
    from macca_hub.mirror import export_local_root, start_server

    folder = local_repo_path("macca/mpe-cn-random", "dataset")
    if not folder.is_dir():
        from dataset_builders.build import build_dataset
        from dataset_builders.policies import PolicySpec

        build_dataset("cn", "random", num_transitions=args.transitions, seed=0, progress=False,
                      policy=PolicySpec(kind="uniform"))
    size_mb = sum(p.stat().st_size for p in folder.rglob("*.parquet")) / 2**20
    with tempfile.TemporaryDirectory(prefix="macca-bench-") as tmp:
        mirrors = Path(tmp) / "mirrors"
        t = time.perf_counter()
        export_local_root(root, mirrors)
        first_export = time.perf_counter() - t
        t = time.perf_counter()
        repos = export_local_root(root, mirrors)
        re_export = time.perf_counter() - t
        t = time.perf_counter()
        server = start_server(mirrors, repos=repos, ready_timeout=120)
        startup = time.perf_counter() - t
        try:
            base = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
            base.update(HF_HUB_DISABLE_PROGRESS_BARS="1", NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
            local_env = {**base, "HF_HOME": str(Path(tmp) / "hf_local"), "HF_HUB_OFFLINE": "1"}
            mirror_env = {**base, "HF_HOME": str(Path(tmp) / "hf_mirror"), "HF_ENDPOINT": server.endpoint,
                          "HF_HUB_OFFLINE": "0", "HF_DATASETS_OFFLINE": "0"}
            local_s, rows = timed_load(str(folder), local_env)
            mirror_s, mirror_rows = timed_load("macca/mpe-cn-random", mirror_env)
            warm_s, _ = timed_load("macca/mpe-cn-random", mirror_env)  # files now in the HF cache
        finally:
            server.stop()
    assert rows == mirror_rows, (rows, mirror_rows)
    print(f"dataset          {folder} ({rows} rows, {size_mb:.1f} MiB of parquet)")
    print(f"git export       first {first_export:.2f} s, unchanged re-export {re_export:.2f} s")
    print(f"olah start-up    {startup:.2f} s")
    print(f"load, local dir  {local_s:.2f} s")
    print(f"load, via mirror {mirror_s:.2f} s cold ({size_mb / mirror_s:.1f} MiB/s), {warm_s:.2f} s warm")
    print(f"ratio            mirror cold / local = {mirror_s / local_s:.2f}")


if __name__ == "__main__":
    main()
