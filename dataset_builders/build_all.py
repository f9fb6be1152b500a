"""Rebuild every published dataset (3 tasks x 4 qualities) from the shipped policies and time each build.

Each build follows its recipe (``dataset_builders/recipes.py``) exactly as ``macca-hub build <task>
--quality <quality>`` does, into the local root (or ``--root``), and the script prints one markdown
row per dataset: size, wall time, rate, mean return and normalized score. Finished datasets are
skipped unless ``--overwrite`` is given, so an interrupted run resumes where it stopped.

    python -m dataset_builders.build_all                        # all twelve, 2 workers each
    python -m dataset_builders.build_all --tasks cn --qualities expert random --overwrite
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from macca_hub.data.format import QUALITIES, dataset_repo_id
from macca_hub.data.loading import read_meta
from macca_hub.hub import local_repo_path
from macca_hub.scores import normalized_score
from macca_hub.tasks import TASKS


def _row(task: str, quality: str, folder: Path, seconds: float | None) -> str:
    info, stats = read_meta(folder)
    ret = stats["episode_return"]
    n = int(info["num_transitions"])
    timing = f"{seconds:.0f} s | {n / seconds:,.0f}" if seconds else "(skipped: exists) | "
    return (f"| {task} | {quality} | {n:,} | {timing} | {ret['mean']:.2f} ± {ret['std']:.2f} | "
            f"{normalized_score(task, ret['mean'], info.get('s_random'), info.get('s_expert')):.1f} |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", default=sorted(TASKS), choices=sorted(TASKS))
    p.add_argument("--qualities", nargs="+", default=list(QUALITIES), choices=list(QUALITIES))
    p.add_argument("--root", default=None, help="folder holding datasets/<org>/<name> (default: $MACCA_HUB_HOME)")
    p.add_argument("--workers", type=int, default=None, help="collector processes per build (default: min(2, CPUs))")
    p.add_argument("--overwrite", action="store_true", help="rebuild datasets that already exist")
    p.add_argument("--log", default=None, help="append one JSON line per finished build to this file")
    a = p.parse_args(argv)

    from dataset_builders.build import build_dataset

    print("| task | quality | transitions | wall time | transitions/s | return mean ± std | normalized |")
    print("|---|---|---|---|---|---|---|")
    for task in a.tasks:
        for quality in a.qualities:
            repo = dataset_repo_id(task, quality)
            folder = (Path(a.root) / "datasets" / repo) if a.root else local_repo_path(repo, "dataset")
            if folder.is_dir() and not a.overwrite:
                print(_row(task, quality, folder, None), flush=True)
                continue
            t0 = time.perf_counter()
            build_dataset(task, quality, output=str(folder), overwrite=a.overwrite, workers=a.workers, progress=False)
            seconds = time.perf_counter() - t0
            print(_row(task, quality, folder, seconds), flush=True)
            if a.log:
                with open(a.log, "a") as f:
                    f.write(json.dumps({"task": task, "quality": quality, "seconds": round(seconds, 1),
                                        "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
