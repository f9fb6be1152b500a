"""Train a causal reward model with Accelerate: CPU, one GPU, or ``accelerate launch`` on many.

Multi-GPU / multi-machine (the same code; each process draws its share of every batch)::

    accelerate launch --multi_gpu --num_processes 4 -m macca_hub.cli train-reward \\
        --dataset macca/mpe-cn-expert --output runs/cn-expert-reward

Batches are a pure function of (seed, step, process), and checkpoints hold the model and Adam
state, so a run interrupted and resumed with ``--resume`` ends with exactly the same weights and
metrics as an uninterrupted run with the same seed.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from macca_hub.reward.configuration_causal_reward import GRAPHS, CausalRewardConfig
from macca_hub.reward.modeling_causal_reward import CausalRewardModel
from macca_hub.utils.configs import cfg, config_to_dict
from macca_hub.utils.io import OutputExistsError, read_json, write_json
from macca_hub.utils.memory import keep_freed_memory
from macca_hub.utils.optim import adam

STATE_NAME = "trainer_state.json"


@dataclass
class RewardTrainingConfig:
    """Everything ``train_reward_model`` needs; the ``train-reward`` CLI is generated from it."""

    dataset: str = cfg(help="dataset folder or repo id, e.g. macca/mpe-cn-expert")
    output: str | None = cfg(None, help="model folder to write (default: $MACCA_HUB_HOME/models/macca/<task>-<quality>-causal-reward)")
    steps: int = cfg(20_000, help="gradient steps")
    batch_size: int = cfg(1024, help="transitions per step (split over processes)")
    lr: float = cfg(3e-4, help="Adam learning rate")
    graph: str = cfg("dynamic", choices=list(GRAPHS), help="causal structure: dynamic, fixed (per-agent mask) or full (ablation)")
    hidden_sizes: tuple[int, ...] = cfg((256, 256, 256), help="reward predictor hidden layers")
    mask_hidden_sizes: tuple[int, ...] = cfg((256, 256), help="dynamic structure predictor hidden layers")
    activation: str = cfg("relu", choices=["relu", "tanh", "gelu", "silu", "elu"], help="hidden activation")
    lambda_state: float | None = cfg(None, help="L1 weight on state masks (default: 0.007 for expert data, else 0.005)")
    lambda_action: float | None = cfg(None, help="L1 weight on action masks (default: 0.007 for expert data, else 0.005)")
    mask_init: float = cfg(0.05, help="initial mask value of the other agents' dims (below h: start from own dims)")
    mask_init_own: float = cfg(0.95, help="initial mask value of agent i's own dims in its masks (symmetry-breaking prior)")
    threshold: float = cfg(0.1, help="mask threshold h used at inference")
    binarize: bool = cfg(True, help="binarise masks at inference (--no-binarize keeps soft masks)")
    straight_through: bool = cfg(True, help="train on the binarised masks with straight-through gradients "
                                            "(--no-straight-through: soft masks in training, as in the paper)")
    eval_fraction: float = cfg(0.1, help="fraction of episodes held out for evaluation")
    eval_every: int = cfg(1000, help="evaluate on the held-out episodes every N steps")
    checkpoint_every: int = cfg(5000, help="save a resumable checkpoint every N steps (0: never)")
    checkpoint_dir: str | None = cfg(None, help="where checkpoints go (default: <output>-checkpoints)")
    keep_checkpoints: int = cfg(2, help="how many recent checkpoints to keep")
    resume: bool = cfg(False, help="continue from the last checkpoint in the checkpoint folder")
    seed: int = cfg(0, help="seed of the initialisation, the episode split and the batches")
    cpu: bool = cfg(False, help="train on CPU even when a GPU is present")
    mixed_precision: str = cfg("no", choices=["no", "fp16", "bf16"], help="Accelerate mixed precision")
    num_threads: int | None = cfg(None, help="torch CPU threads (default: torch's choice)")
    evaluate: bool = cfg(True, help="measure credit-assignment fidelity on the held-out episodes at the end")
    model_id: str | None = cfg(None, help="repo id to name the model by in its card (e.g. macca/cn-expert-causal-reward)")
    overwrite: bool = cfg(False, help="replace an existing output folder")
    progress: bool = cfg(True, help="show a progress bar")


def default_model_id(info: dict[str, Any]) -> str:
    return f"macca/{info['task']}-{info.get('quality') or 'custom'}-causal-reward"


def default_output(info: dict[str, Any]) -> Path:
    """``$MACCA_HUB_HOME/models/macca/<task>-<quality>-causal-reward``, where ``from_pretrained`` finds it by id."""
    from macca_hub.hub import local_repo_path

    return local_repo_path(default_model_id(info), "model")


def split_episodes(episodes: np.ndarray, eval_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle the unique episode ids with ``seed`` and hold out a fraction (at least one) for evaluation."""
    if not 0.0 < eval_fraction < 1.0:
        raise ValueError(f"eval_fraction must lie in (0, 1), got {eval_fraction}.")
    ids = np.unique(episodes)
    if len(ids) < 2:
        raise ValueError(f"The dataset holds {len(ids)} episode(s); at least 2 are needed to hold some out.")
    perm = np.random.default_rng([seed, 7]).permutation(ids)
    n_eval = min(max(1, int(round(eval_fraction * len(ids)))), len(ids) - 1)
    return np.sort(perm[n_eval:]), np.sort(perm[:n_eval])


def sample_indices(seed: int, step: int, process: int, size: int, n: int) -> np.ndarray:
    """Batch indices as a pure function of (seed, step, process): resuming redraws the same batches."""
    return np.random.default_rng([seed, step, process]).integers(0, n, size=size)


def _model_config(config: RewardTrainingConfig, info: dict[str, Any]) -> CausalRewardConfig:
    lam = 0.007 if info.get("quality") == "expert" else 0.005
    return CausalRewardConfig(
        n_agents=int(info["n_agents"]), obs_dim=int(info["obs_dim"]), act_dim=int(info["act_dim"]), graph=config.graph,
        hidden_sizes=config.hidden_sizes, mask_hidden_sizes=config.mask_hidden_sizes, activation=config.activation,
        lambda_state=lam if config.lambda_state is None else config.lambda_state,
        lambda_action=lam if config.lambda_action is None else config.lambda_action,
        mask_init=config.mask_init, mask_init_own=config.mask_init_own, threshold=config.threshold, binarize=config.binarize,
        straight_through=config.straight_through)


def _resume_key(config: RewardTrainingConfig, model_config: CausalRewardConfig) -> dict[str, Any]:
    """What must not change between a run and its resumption (``steps`` may grow)."""
    key = {"dataset": str(config.dataset), "seed": config.seed, "batch_size": config.batch_size, "lr": config.lr,
           "eval_fraction": config.eval_fraction, "model": config_to_dict(model_config)}
    return json.loads(json.dumps(key))  # tuples -> lists, as read back from trainer_state.json


def _latest_checkpoint(folder: Path) -> Path | None:
    done = sorted(p for p in folder.glob("step_*") if (p / STATE_NAME).is_file())
    return done[-1] if done else None


@torch.no_grad()
def held_out_eval(model: torch.nn.Module, accelerator: Any, obs: torch.Tensor, act: torch.Tensor, team: torch.Tensor,
                  batch_size: int) -> dict[str, float]:
    """Team-reward MSE and R^2 (binarised masks, as at inference) on the held-out rows, sharded over processes."""
    unwrapped = accelerator.unwrap_model(model)
    was_training = unwrapped.training
    unwrapped.eval()
    n, world, rank = len(obs), accelerator.num_processes, accelerator.process_index
    per = -(-n // world)
    idx = torch.arange(rank * per, (rank + 1) * per, device=obs.device).clamp_(max=n - 1)  # pad with the last row
    preds = torch.cat([unwrapped(obs[idx[i:i + batch_size]], act[idx[i:i + batch_size]]).rewards.sum(-1).float()
                       for i in range(0, len(idx), batch_size)])
    preds = accelerator.gather(preds)[:n].double()
    target = team.double()
    sse = float(torch.square(preds - target).sum())
    sst = float(torch.square(target - target.mean()).sum())
    unwrapped.train(was_training)
    return {"team_mse": sse / n, "team_r2": 1.0 - sse / sst if sst > 0 else float("nan")}


def train_reward_model(config: RewardTrainingConfig) -> tuple[CausalRewardModel, dict[str, Any]]:
    """Train on a split of episodes, evaluate on the rest, save the model (+ card); returns (model, metrics)."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm

    from macca_hub.data.loading import dataset_meta
    from macca_hub.data.loading import load_columns
    from macca_hub.reward.card import dataset_identity

    if config.steps < 1 or config.batch_size < 1:
        raise ValueError(f"steps and batch_size must be positive, got {config.steps} and {config.batch_size}.")
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    keep_freed_memory()
    info, stats = dataset_meta(config.dataset)
    output = Path(config.output).expanduser() if config.output else default_output(info)
    if output.exists() and not (config.overwrite or config.resume):
        raise OutputExistsError(f"{output} already exists; pass --overwrite to replace it, --resume to continue "
                                "its run, or choose another --output.")
    ckpt_dir = Path(config.checkpoint_dir).expanduser() if config.checkpoint_dir else output.with_name(output.name + "-checkpoints")

    accelerator = Accelerator(cpu=config.cpu or not torch.cuda.is_available(), mixed_precision=config.mixed_precision)
    set_seed(config.seed)
    model_config = _model_config(config, info)
    model = CausalRewardModel(model_config)
    model.set_normalization(stats)

    cols = load_columns(config.dataset, ["episode_index", "observations", "actions", "team_reward"])
    train_eps, eval_eps = split_episodes(cols["episode_index"], config.eval_fraction, config.seed)
    is_train = np.isin(cols["episode_index"], train_eps)
    dev = accelerator.device

    def tensors(rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return tuple(torch.from_numpy(np.ascontiguousarray(cols[k][rows])).to(dev)  # type: ignore[return-value]
                     for k in ("observations", "actions", "team_reward"))

    obs_tr, act_tr, rew_tr = tensors(is_train)
    obs_ev, act_ev, rew_ev = tensors(~is_train)
    del cols

    optimizer = adam(model.parameters(), config.lr)
    model, optimizer = accelerator.prepare(model, optimizer)
    unwrapped: CausalRewardModel = accelerator.unwrap_model(model)

    key = _resume_key(config, model_config)
    start, elapsed, history = 0, 0.0, []
    if config.resume:
        last = _latest_checkpoint(ckpt_dir)
        if last is None:
            accelerator.print(f"--resume: no checkpoint in {ckpt_dir}, starting from step 0")
        else:
            state = read_json(last / STATE_NAME)
            if state["resume_key"] != key:
                diff = sorted(k for k in key if state["resume_key"].get(k) != key[k])
                raise ValueError(f"Checkpoint {last} was made with different settings ({diff}); resume with the same "
                                 "dataset, seed, batch size, lr and model options, or start a fresh run.")
            accelerator.load_state(str(last), load_kwargs={"weights_only": True})
            start, elapsed, history = int(state["step"]), float(state["seconds"]), list(state["history"])
            accelerator.print(f"resumed from {last} (step {start})")

    world, rank = accelerator.num_processes, accelerator.process_index
    per_proc = max(1, config.batch_size // world)
    bar = tqdm(total=config.steps, initial=start, disable=not (config.progress and accelerator.is_main_process),
               desc="train-reward", dynamic_ncols=True)
    model.train()
    t0 = time.perf_counter()
    parts: dict[str, torch.Tensor] = {}
    for step in range(start, config.steps):
        idx = torch.from_numpy(sample_indices(config.seed, step, rank, per_proc, len(obs_tr))).to(dev)
        out = model(obs_tr[idx], act_tr[idx])
        loss, parts = unwrapped.loss_from_outputs(out, rew_tr[idx])
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        optimizer.step()
        done = step + 1
        bar.update(1)
        if done % config.eval_every == 0 or done == config.steps:
            ev = held_out_eval(model, accelerator, obs_ev, act_ev, rew_ev, 8192)
            logged = accelerator.gather(torch.stack([parts[k] for k in sorted(parts)]).reshape(1, -1)).mean(0)
            record = {"step": done, **{k: float(v) for k, v in zip(sorted(parts), logged)},
                      **{f"eval_{k}": v for k, v in ev.items()}}
            history.append(record)
            bar.set_postfix(loss=f"{record['loss']:.4f}", eval_r2=f"{ev['team_r2']:.3f}")
        if config.checkpoint_every and (done % config.checkpoint_every == 0 or done == config.steps):
            _save_checkpoint(accelerator, ckpt_dir, done, elapsed + time.perf_counter() - t0, history, key,
                             config.keep_checkpoints)
    bar.close()
    seconds = elapsed + time.perf_counter() - t0

    model_cpu: CausalRewardModel = unwrapped.to("cpu").eval()
    final_eval = history[-1] if history else {}
    metrics: dict[str, Any] = {"steps": config.steps, "seconds": seconds,
                               "final_eval": {k.removeprefix("eval_"): v for k, v in final_eval.items() if k.startswith("eval_")}}
    model_cpu.card_info = {
        "model_id": config.model_id or (None if config.output else default_model_id(info)),
        "dataset": dataset_identity(config.dataset),
        "training": {
            "steps": config.steps, "batch_size": config.batch_size, "lr": config.lr, "seed": config.seed,
            "seconds": seconds, "device": str(dev.type), "num_processes": world,
            "train_episodes": int(len(train_eps)), "eval_episodes_count": int(len(eval_eps)),
            "eval_episodes": eval_eps.tolist(), "final_eval": metrics["final_eval"], "history": history,
            "config": config_to_dict(config),
        },
        "command": _command(config),
    }
    if accelerator.is_main_process:
        if config.evaluate and _has_individual_rewards(config.dataset):
            from macca_hub.reward.evaluation import evaluate_reward_model

            fidelity = evaluate_reward_model(model_cpu, config.dataset, eval_eps.tolist())
            set_fidelity(model_cpu, fidelity)
            metrics["fidelity"] = {k: v for k, v in fidelity.items() if not k.startswith("mean_")}
        model_cpu.save_pretrained(output, overwrite=True)
        metrics["output"] = str(output)
    accelerator.wait_for_everyone()
    return model_cpu, metrics


def set_fidelity(model: CausalRewardModel, fidelity: dict[str, Any]) -> None:
    """Record evaluation results in the model's card info (metrics table + heatmap data)."""
    model.card_info["metrics"] = {k: v for k, v in fidelity.items() if not k.startswith("mean_")}
    model.card_info["mean_masks"] = fidelity["mean_masks"]


def _has_individual_rewards(dataset: str) -> bool:
    from macca_hub.data.loading import resolve_dataset_dir

    folder = resolve_dataset_dir(dataset)
    return folder is not None and any((folder / "individual_rewards").glob("*.parquet"))


def _save_checkpoint(accelerator: Any, ckpt_dir: Path, step: int, seconds: float, history: list[dict],
                     key: dict[str, Any], keep: int) -> None:
    """``accelerator.save_state`` into a temporary folder, then rename (a crash never leaves half a checkpoint)."""
    final = ckpt_dir / f"step_{step:08d}"
    tmp = ckpt_dir / f".step_{step:08d}.tmp"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp), safe_serialization=True)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        write_json(tmp / STATE_NAME, {"step": step, "seconds": seconds, "history": history, "resume_key": key})
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        for old in sorted(p for p in ckpt_dir.glob("step_*"))[:-max(keep, 1)]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()


def _command(config: RewardTrainingConfig) -> str:
    parts = [f"macca-hub train-reward --dataset {config.dataset}", f"--steps {config.steps}",
             f"--batch-size {config.batch_size}", f"--lr {config.lr}", f"--graph {config.graph}", f"--seed {config.seed}"]
    if config.lambda_state is not None:
        parts.append(f"--lambda-state {config.lambda_state}")
    if config.lambda_action is not None:
        parts.append(f"--lambda-action {config.lambda_action}")
    if not config.binarize:
        parts.append("--no-binarize")
    if not config.straight_through:
        parts.append("--no-straight-through")
    return " ".join(parts) + " --output <folder>"
