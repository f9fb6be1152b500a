"""Write a copy of a dataset whose default config gains ``macca_rewards`` [n_agents] from a reward model.

The copy is a complete Hub-layout dataset folder (same shards, the hidden ``individual_rewards``
config, meta/ with the model recorded, a card naming the model), so other offline MARL methods
can train on the decomposed rewards and it can be pushed like any other dataset. Shards are
streamed record batch by record batch through ``model.relabel`` (the very function
``ds.map(model.relabel, batched=True)`` uses), so peak memory is one batch, whatever the size.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Features, List, Value
from tqdm.auto import tqdm

from macca_hub.data.format import DATA_DIR, INDIVIDUAL_DIR, features_from_info, read_meta
from macca_hub.data.loading import arrow_to_numpy
from macca_hub.hub import WEIGHTS_NAME as WEIGHTS_FILE
from macca_hub.reward.modeling_causal_reward import CausalRewardModel
from macca_hub.utils.io import atomic_directory, sha256_file, write_json

COLUMN = "macca_rewards"


def relabeled_features(info: dict[str, Any]) -> Features:
    """The default config's features plus ``macca_rewards`` (fixed length n_agents, float32)."""
    features = features_from_info(info)
    features[COLUMN] = List(Value("float32"), length=int(info["n_agents"]))
    return features


def relabel_shard(model: CausalRewardModel, src: Path, dst: Path, schema: pa.Schema, batch_size: int,
                  num_threads: int | None = None) -> int:
    """Stream one parquet shard through ``model.relabel`` into ``dst``; returns the rows written."""
    import torch

    if num_threads:
        torch.set_num_threads(num_threads)
    model.eval()
    rows = 0
    reward_type = schema.field(COLUMN).type
    with pq.ParquetWriter(dst, schema, use_dictionary=False) as writer:  # dictionaries only slow float data down
        for rb in pq.ParquetFile(src).iter_batches(batch_size=batch_size):
            batch = {"observations": arrow_to_numpy(rb.column("observations")),
                     "actions": arrow_to_numpy(rb.column("actions"))}
            r = np.ascontiguousarray(model.relabel(batch)[COLUMN], dtype=np.float32)
            col = pa.FixedSizeListArray.from_arrays(pa.array(r.reshape(-1)), r.shape[1]).cast(reward_type)
            table = pa.Table.from_batches([rb]).append_column(COLUMN, col).select(schema.names)
            writer.write_table(table.cast(schema))
            rows += rb.num_rows
    return rows


def _relabel_worker(model_dir: str, src: str, dst: str, schema_bytes: bytes, batch_size: int) -> int:
    schema = pa.ipc.read_schema(pa.py_buffer(schema_bytes))
    return relabel_shard(CausalRewardModel.from_pretrained(model_dir), Path(src), Path(dst), schema, batch_size, num_threads=1)


def _resolve_dataset(dataset: str | os.PathLike) -> Path:
    from macca_hub.data.loading import build_hint, resolve_dataset_dir

    folder = resolve_dataset_dir(dataset)
    if folder is not None:
        return folder
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(str(dataset), repo_type="dataset"))
    except Exception as err:
        raise FileNotFoundError(f"Dataset {dataset!r} is not a folder, not under the local root and not reachable on "
                                f"the Hub; build it with `{build_hint(str(dataset))}`.") from err


def relabel_dataset(dataset: str | os.PathLike, model: CausalRewardModel | str | os.PathLike, output: str | os.PathLike,
                    overwrite: bool = False, batch_size: int = 4096, num_proc: int | None = None,
                    repo_id: str | None = None, progress: bool = True) -> Path:
    """Write ``output``: ``dataset`` with a ``macca_rewards`` column from ``model`` (a model or its folder / repo id).

    ``num_proc`` > 1 relabels shards in parallel processes (one model copy each).
    """
    model_ref = str(model) if not isinstance(model, CausalRewardModel) else None
    if model_ref is not None:
        model = CausalRewardModel.from_pretrained(model_ref)
    assert isinstance(model, CausalRewardModel)
    model = model.eval()
    src = _resolve_dataset(dataset)
    info, stats = read_meta(src)
    model.check_compatible(info)
    shards = sorted((src / DATA_DIR).glob("*.parquet"))
    if not shards:
        raise FileNotFoundError(f"{src / DATA_DIR} holds no parquet shards; the dataset is incomplete, rebuild it.")
    schema = relabeled_features(info).arrow_schema
    with atomic_directory(output, overwrite=overwrite) as tmp:
        (tmp / DATA_DIR).mkdir()
        model_dir = tmp / ".model"  # the exact weights used, for worker processes and the sha256
        model.save_pretrained(model_dir)
        weights_sha = sha256_file(model_dir / WEIGHTS_FILE)
        bar = tqdm(total=int(info.get("num_transitions", 0)) or None, desc="relabel", unit="row", disable=not progress)
        if num_proc and num_proc > 1 and len(shards) > 1:
            schema_bytes = schema.serialize().to_pybytes()
            with ProcessPoolExecutor(max_workers=num_proc, mp_context=get_context("spawn")) as pool:
                futures = [pool.submit(_relabel_worker, str(model_dir), str(s), str(tmp / DATA_DIR / s.name),
                                       schema_bytes, batch_size) for s in shards]
                for f in futures:
                    bar.update(f.result())
        else:
            for s in shards:
                bar.update(relabel_shard(model, s, tmp / DATA_DIR / s.name, schema, batch_size))
        bar.close()
        shutil.rmtree(model_dir)
        if (src / INDIVIDUAL_DIR).is_dir():
            shutil.copytree(src / INDIVIDUAL_DIR, tmp / INDIVIDUAL_DIR)
        shutil.copytree(src / "meta", tmp / "meta")
        source_id = info.get("repo_id", str(dataset))
        new_info = {
            **info,
            "repo_id": repo_id or f"{source_id}-macca-rewards",
            "pretty_name": f"{info.get('pretty_name', source_id)} + MACCA rewards",
            "relabeled_from": source_id,
            "reward_model": _model_record(model, model_ref, weights_sha),
            "extra_columns": {COLUMN: {"shape": [int(info["n_agents"])], "dtype": "float32",
                                       "doc": "per-agent rewards r_hat^i from the causal reward model"}},
        }
        write_json(tmp / "meta" / "info.json", new_info)
        _write_card(tmp, new_info, stats)
    return Path(output)


def _model_record(model: CausalRewardModel, model_ref: str | None, weights_sha: str) -> dict[str, Any]:
    card = model.card_info
    return {
        "model_id": card.get("model_id") or model_ref, "model_safetensors_sha256": weights_sha,
        "graph": model.config.graph, "threshold": model.config.threshold, "binarize": model.config.binarize,
        "trained_on": card.get("dataset", {}).get("repo_id"),
        "metrics": {k: card.get("metrics", {}).get(k) for k in ("team_r2", "agent_pearson_mean", "relative_credit_pearson")},
    }


def _write_card(folder: Path, info: dict[str, Any], stats: dict[str, Any]) -> None:
    """The standard dataset card plus a section that names the reward model."""
    from huggingface_hub import DatasetCard

    from macca_hub.cards import write_dataset_card

    info = {**info, "build_command": f"{info.get('build_command', '')}\n{_relabel_command(info)}".strip()}
    path = write_dataset_card(folder, info, stats)
    card = DatasetCard.load(path)
    rm = info["reward_model"]
    card.data.tags = [*(card.data.tags or []), "macca-rewards"]
    from macca_hub.hub import REPO_ID_PATTERN

    if REPO_ID_PATTERN.match(str(info["relabeled_from"])):  # a Hub link, so the published card points at its source
        card.data.source_datasets = [str(info["relabeled_from"])]
    metrics = rm["metrics"]
    fid = ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if isinstance(v, (int, float)))
    card.text += (
        "\n\n## MACCA rewards\n\n"
        f"The default config has an extra column `{COLUMN}` [{info['n_agents']}] (float32): per-agent rewards "
        f"r_hat^i from the causal reward model `{rm['model_id'] or 'a local model'}` "
        f"(graph `{rm['graph']}`, model.safetensors sha256 `{rm['model_safetensors_sha256'][:16]}…`"
        f"{', trained on `' + rm['trained_on'] + '`' if rm['trained_on'] else ''}), relabeled from "
        f"`{info['relabeled_from']}`.{' Held-out fidelity: ' + fid + '.' if fid else ''} Use them in place of "
        "the team reward to train any offline MARL method on decomposed rewards.\n"
    )
    card.save(path)


def _relabel_command(info: dict[str, Any]) -> str:
    return f"macca-hub relabel --dataset {info['relabeled_from']} --model {info['reward_model']['model_id'] or '<model>'} --output <folder>"
