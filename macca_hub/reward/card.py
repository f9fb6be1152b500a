"""The reward model's card (README.md + mask heatmap) and the dataset identity it records."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huggingface_hub import ModelCardData

from macca_hub.utils.configs import config_to_dict

if TYPE_CHECKING:
    from macca_hub.reward.modeling_causal_reward import CausalRewardModel


def dataset_identity(name_or_path: str | os.PathLike) -> dict[str, Any]:
    """Repo id, content fingerprint and revision of a dataset, for the model card.

    The fingerprint is a sha256 over ``meta/info.json`` and the default config's parquet shards, so
    two folders with the same data have the same fingerprint wherever they live; for a copy cached
    from the Hub the snapshot folder name is the commit (the revision).
    """
    from macca_hub.data.loading import dataset_meta, resolve_dataset_dir

    info, _ = dataset_meta(name_or_path)
    folder = resolve_dataset_dir(name_or_path)
    ident: dict[str, Any] = {
        "repo_id": info.get("repo_id", str(name_or_path)), "task": info.get("task"), "quality": info.get("quality"),
        "num_transitions": info.get("num_transitions"), "num_episodes": info.get("num_episodes"),
        "path": str(folder.resolve()) if folder is not None else str(name_or_path), "fingerprint": None, "revision": None,
    }
    if folder is not None:
        h = hashlib.sha256((folder / "meta" / "info.json").read_bytes())
        for shard in sorted((folder / "data").glob("*.parquet")):
            with open(shard, "rb") as f:
                while block := f.read(1 << 20):
                    h.update(block)
        ident["fingerprint"] = h.hexdigest()[:16]
        if "snapshots" in folder.parts:
            ident["revision"] = folder.name
    return ident


def write_model_card(model: "CausalRewardModel", folder: Path) -> None:
    """Render ``model_cards/reward_model_card.md`` (and the heatmap, when masks were measured)."""
    from macca_hub.cards import render_model_card
    from macca_hub.plots import mask_heatmap

    info = model.card_info
    c = model.config
    dataset = info.get("dataset", {})
    heatmap = None
    masks = info.get("mean_masks")
    if masks:
        from macca_hub.reward.modeling_causal_reward import HEATMAP_NAME

        mask_heatmap(masks["state"], masks["action"], folder / HEATMAP_NAME,
                     title=info.get("model_id") or dataset.get("repo_id") or "causal reward model",
                     obs_dim=c.obs_dim, act_dim=c.act_dim, threshold=c.threshold if c.binarize else None)
        heatmap = HEATMAP_NAME
    tags = ["macca", "causal-reward", "credit-assignment", "multi-agent", "offline-rl", "reinforcement-learning"]
    if dataset.get("task"):
        tags.append(str(dataset["task"]))
    card_data = ModelCardData(license="apache-2.0", library_name="macca_hub", tags=tags,
                              datasets=[dataset["repo_id"]] if dataset.get("repo_id") else None)
    model_id = info.get("model_id") or "<model folder or repo id>"
    title = info.get("model_id") or f"Causal reward model ({dataset.get('repo_id', 'custom data')})"
    render_model_card(folder, card_data, "reward_model", title=title, model_id=model_id, dataset=dataset,
                      training=info.get("training", {}), metrics=info.get("metrics"), heatmap=heatmap,
                      config=config_to_dict(c), command=info.get("command", "macca-hub train-reward --dataset <dataset> --output <folder>"))
