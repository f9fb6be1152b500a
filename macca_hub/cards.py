"""Render cards from the Jinja2 templates in ``model_cards/`` with ``huggingface_hub``'s card classes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from huggingface_hub import DatasetCard, DatasetCardData, ModelCard, ModelCardData

from model_cards import template_path


def dataset_card_data(pretty_name: str, tags: list[str], extra_configs: list[dict] | None = None,
                      **metadata: Any) -> DatasetCardData:
    """Card metadata with the ``configs:`` block for the two configs of our format."""
    configs = [
        {"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*.parquet"}], "default": True},
        {"config_name": "individual_rewards",
         "data_files": [{"split": "train", "path": "individual_rewards/train-*.parquet"}]},
    ] + list(extra_configs or [])
    return DatasetCardData(license="apache-2.0", pretty_name=pretty_name, task_categories=["reinforcement-learning"],
                           tags=["macca", "offline-rl", "multi-agent", *tags], configs=configs, **metadata)


def render_dataset_card(folder: str | os.PathLike, card_data: DatasetCardData, template: str = "dataset",
                        **variables: Any) -> Path:
    card = DatasetCard.from_template(card_data, template_path=str(template_path(template)), **variables)
    path = Path(folder) / "README.md"
    card.save(path)
    return path


def render_model_card(folder: str | os.PathLike, card_data: ModelCardData, template: str, **variables: Any) -> Path:
    card = ModelCard.from_template(card_data, template_path=str(template_path(template)), **variables)
    path = Path(folder) / "README.md"
    card.save(path)
    return path


def write_dataset_card(folder: str | os.PathLike, info: dict[str, Any], stats: dict[str, Any]) -> Path:
    """Write ``README.md`` and ``meta/returns_histogram.png`` of a dataset folder from its metadata."""
    import numpy as np

    from macca_hub.plots import return_histogram
    from macca_hub.scores import normalized_score

    folder = Path(folder)
    returns = np.load(folder / "meta" / "episode_returns.npy", allow_pickle=False)
    return_histogram(returns, folder / "meta" / "returns_histogram.png", title=info.get("repo_id", info["task"]))
    ret = stats["episode_return"]
    s_random, s_expert = info.get("s_random"), info.get("s_expert")
    score = "n/a"
    if s_random is not None and s_expert is not None:
        score = f"{normalized_score(info['task'], ret['mean'], s_random, s_expert):.1f}"
    card_data = dataset_card_data(
        pretty_name=info.get("pretty_name", info.get("repo_id", info["task"])),
        tags=["mpe", info["task"], info.get("quality", "custom")],
        size_categories=[_size_category(info["num_transitions"])],
        dataset_info=[_split_info(folder, name, sub) for name, sub in
                      (("default", "data"), ("individual_rewards", "individual_rewards"))
                      if any((folder / sub).glob("*.parquet"))],
        **info.get("card_metadata", {}),
    )
    pol = info.get("behaviour_policy", {})
    variables = {
        **info, "ret": ret, "normalized_score": score, "s_random": s_random, "s_expert": s_expert,
        "behaviour_policy": pol.get("id", "?"), "behaviour_policy_sha256": pol.get("sha256"),
        "opponent": info.get("opponent", {}).get("doc", "none"),
    }
    return render_dataset_card(folder, card_data, **variables)


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "1M<n<10M"


def _split_info(folder: Path, config_name: str, sub: str) -> dict[str, Any]:
    """Standard ``dataset_info`` card entry (sizes also keep `datasets`' cache keys distinct per build)."""
    import pyarrow.parquet as pq

    files = sorted((folder / sub).glob("*.parquet"))
    metas = [pq.ParquetFile(f).metadata for f in files]
    rows = sum(m.num_rows for m in metas)
    num_bytes = sum(m.row_group(i).total_byte_size for m in metas for i in range(m.num_row_groups))  # uncompressed
    size = sum(f.stat().st_size for f in files)
    return {"config_name": config_name, "splits": [{"name": "train", "num_bytes": num_bytes, "num_examples": rows}],
            "download_size": size}
