"""Offline MARL training loop: load the dataset once, sample index batches, update, evaluate in mpe2.

``train_policy(TrainPolicyConfig(...))`` (or ``macca-hub train-policy``) trains one run and writes

    <output>/results.json        config, seed, evaluation curve, final return / normalized score, wall time
    <output>/policy/             the trained actors in Hub format (config.json, model.safetensors, card)
    <output>/checkpoint/         the latest resumable state (Accelerate ``save_state``); a finished run can be
                                 extended with a larger ``num_updates`` and ``resume``

Reward sources: ``team`` (every agent learns from R_t), ``macca`` (r_hat^i from the causal reward model,
``alternate``: model and policy updated in turns on the same batches, MACCA's Algorithm 1, or
``pretrained``: a model trained first / loaded relabels the data once) and ``ground-truth`` (the hidden
individual rewards, an oracle). Runs under Accelerate: CPU, one GPU, or ``accelerate launch`` over
several processes (each samples its own batch; gradients are averaged).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from macca_hub.algos import ALGORITHMS, Batch, OfflineAlgorithm, make_algorithm
from macca_hub.utils.configs import cfg, config_to_dict
from macca_hub.utils.memory import keep_freed_memory
from macca_hub.utils.optim import adam

REWARDS = ("team", "macca", "ground-truth")
PARADIGMS = ("alternate", "pretrained")
PRECISIONS = ("no", "bf16")
STATE_NAME = "trainer_state.json"


@dataclasses.dataclass
class TrainPolicyConfig:
    """One offline MARL run (defaults: the published MPE settings)."""

    dataset: str = cfg("macca/mpe-cn-expert", help="dataset folder or repo id")
    algo: str = cfg("omar", choices=sorted(ALGORITHMS), help="offline MARL backbone")
    reward: str = cfg("team", choices=list(REWARDS),
                      help="reward each agent learns from: team (R_t), macca (causal model r_hat^i) or "
                           "ground-truth (hidden individual rewards; an oracle)")
    paradigm: str = cfg("alternate", choices=list(PARADIGMS),
                        help="with --reward macca: alternate (causal model and policy updated in turns on the same "
                             "batches) or pretrained (a model trained first, or --reward-model, relabels the data once)")
    reward_model: str | None = cfg(None, help="causal reward model folder / repo id: relabels the data (pretrained) or "
                                              "initialises the jointly trained model (alternate)")
    reward_steps: int = cfg(2000, help="pretrained paradigm without --reward-model: steps of the model trained first")
    reward_lr: float = cfg(3e-4, help="Adam learning rate of the causal model (alternate paradigm)")
    reward_args: dict = cfg({}, help='JSON settings of the causal model, e.g. \'{"lambda_state": 0.007, '
                                     '"lambda_action": 0.007, "threshold": 0.1, "graph": "fixed"}\'')
    algo_args: dict = cfg({}, help='JSON overrides of the algorithm config, e.g. \'{"alpha": 5.0, "tau": 0.9}\' '
                                   "(unset alpha / tau: the published value for the dataset)")
    reward_scale: float | None = cfg(None, help="multiply every reward by this before learning (unset: 1 / std of the "
                                                "dataset's team reward, one constant per dataset for every reward source)")
    num_updates: int = cfg(20_000, help="rounds (a round = one gradient step of every agent's critics and actor)")
    batch_size: int = cfg(1024, help="transitions per round (split over processes)")
    eval_every: int = cfg(1000, help="evaluate in the live task every N rounds (and at the end)")
    eval_episodes: int = cfg(10, help="episodes per evaluation")
    eval_seed: int = cfg(0, help="seed of the evaluation episodes (the same episodes at every evaluation)")
    checkpoint_every: int = cfg(5000, help="save a resumable checkpoint every N rounds (0: never)")
    output: str | None = cfg(None, help="run folder (default: $MACCA_HUB_HOME/runs/<dataset>/<algo>-<reward>-seed<k>)")
    resume: bool = cfg(False, help="continue from the run's checkpoint; a finished run is returned as is")
    overwrite: bool = cfg(False, help="discard an existing run folder and start again")
    seed: int = cfg(0, help="seed of the initialisation and of the sampled batches")
    max_transitions: int | None = cfg(None, help="train on the first N transitions only (quick runs)")
    cpu: bool = cfg(False, help="train on CPU even when a GPU is present")
    mixed_precision: str = cfg("no", choices=list(PRECISIONS),
                               help="precision of the update: no (float32) or bf16 (critic and causal-model matmuls in "
                                    "bfloat16; Q-values, losses, rewards, actors and optimizer state in float32; for "
                                    "hardware with native bf16, e.g. CPUs with AMX: 1.5-1.7x faster there)")
    num_threads: int | None = cfg(None, help="torch CPU threads (default: torch's choice)")
    save_policy: bool = cfg(True, help="save the trained actors in Hub format under <output>/policy")
    progress: bool = cfg(True, help="show a progress bar with the latest evaluation score")


def default_output(config: TrainPolicyConfig) -> Path:
    from macca_hub.hub import hub_home

    name = Path(str(config.dataset).rstrip("/")).name
    tag = config.reward + (f"-{config.paradigm}" if config.reward == "macca" else "")
    return hub_home() / "runs" / name / f"{config.algo}-{tag}-seed{config.seed}"


# -- data --------------------------------------------------------------------------------------
class TrainingData:
    """Whole columns as agent-major tensors on the training device; ``batch(idx)`` is two gathers per field."""

    def __init__(self, cols: dict[str, np.ndarray], rewards: np.ndarray | None, device: torch.device,
                 reward_scale: float = 1.0) -> None:
        def t(x: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(x)).to(device)

        ep, done = cols["episode_index"], cols["terminated"]
        self.size = len(ep)
        self.obs = t(cols["observations"].transpose(1, 0, 2))  # [n, N, obs]
        self.next_obs = t(cols["next_observations"].transpose(1, 0, 2))
        self.actions = t(cols["actions"].transpose(1, 0, 2))
        self.reward_scale = float(reward_scale)
        self.team_reward = t(cols["team_reward"].astype(np.float32))  # raw: the causal model's training target
        self.not_done = t((~done).astype(np.float32))
        # The behaviour's next action (MA-ICQ): the next row when it continues the same episode.
        has_next = np.zeros(self.size, bool)
        has_next[:-1] = (ep[1:] == ep[:-1]) & (cols["step"][1:] == cols["step"][:-1] + 1) & ~done[:-1]
        self.has_next = t(has_next)
        self.next_actions = torch.roll(self.actions, -1, dims=1)
        self.rewards = None if rewards is None else t(rewards.T.astype(np.float32) * self.reward_scale)  # [n, N]
        self.n_agents = self.obs.shape[0]

    def sample(self, batch_size: int, device: torch.device) -> torch.Tensor:
        return torch.randint(0, self.size, (batch_size,), device=device)

    def batch(self, idx: torch.Tensor, rewards: torch.Tensor | None = None, next_actions: bool = False) -> Batch:
        if rewards is None:
            rewards = (self.rewards.index_select(1, idx) if self.rewards is not None
                       else (self.team_reward[idx] * self.reward_scale).expand(self.n_agents, -1))
        else:
            rewards = rewards * self.reward_scale
        return Batch(
            observations=self.obs.index_select(1, idx), actions=self.actions.index_select(1, idx), rewards=rewards,
            next_observations=self.next_obs.index_select(1, idx), not_done=self.not_done[idx],
            next_actions=self.next_actions.index_select(1, idx) if next_actions else None,
            has_next=self.has_next[idx] if next_actions else None,
        )


def causal_step(data: TrainingData, idx: torch.Tensor, causal: Any, causal_opt: torch.optim.Optimizer,
                backward: Callable[[torch.Tensor], None] = torch.Tensor.backward) -> tuple[torch.Tensor, torch.Tensor]:
    """MACCA's step of the alternate paradigm on the rows ``idx``: one update of the causal model on their team
    reward, then the updated model's per-agent rewards for them. Returns (rewards [n, B] float32, detached loss)."""
    obs, act = data.obs.index_select(1, idx).transpose(0, 1), data.actions.index_select(1, idx).transpose(0, 1)
    loss, _ = causal.loss(obs, act, data.team_reward[idx])
    causal_opt.zero_grad(set_to_none=True)
    backward(loss)
    causal_opt.step()
    return causal.rewards(obs, act).transpose(0, 1).contiguous(), loss.detach()


def update_round(algo: OfflineAlgorithm, data: TrainingData, idx: torch.Tensor, causal: Any = None,
                 causal_opt: torch.optim.Optimizer | None = None,
                 backward: Callable[[torch.Tensor], None] = torch.Tensor.backward) -> dict[str, torch.Tensor]:
    """One round on the rows ``idx``: with a causal model (alternate paradigm) first :func:`causal_step`, whose
    rewards the policy then learns from; then one step of every agent's critics and actor. Returns detached
    losses (no host sync)."""
    rewards, logs = None, {}
    if causal is not None:
        rewards, logs["causal_loss"] = causal_step(data, idx, causal, causal_opt, backward)
    logs.update(algo.update(data.batch(idx, rewards, next_actions=getattr(algo, "needs_next_actions", False))))
    return logs


def default_reward_scale(team_reward: np.ndarray) -> float:
    """The reward scale unless ``--reward-scale`` says otherwise: 1 / std of the dataset's team reward, one constant
    per dataset for every reward source."""
    return 1.0 / max(float(np.std(team_reward)), 1e-6)


COLUMNS = ["episode_index", "step", "observations", "actions", "team_reward", "next_observations", "terminated"]


def load_ground_truth(dataset: str, cols: dict[str, np.ndarray]) -> np.ndarray:
    """Hidden individual rewards ``[N, n]`` aligned with ``cols``; a clear error when the dataset lacks them."""
    from macca_hub.data.loading import load_columns

    try:
        hidden = load_columns(dataset, ["episode_index", "step", "individual_rewards"], config="individual_rewards")
    except (ValueError, FileNotFoundError) as err:
        raise ValueError(
            f"--reward ground-truth needs the hidden 'individual_rewards' config, which dataset {dataset!r} does not "
            f"have ({err}). Published copies omit it: build the dataset locally with `macca-hub build <task> --quality "
            "<quality>`, or train with --reward team or --reward macca."
        ) from None
    n = len(cols["episode_index"])
    if (len(hidden["episode_index"]) < n or not np.array_equal(hidden["episode_index"][:n], cols["episode_index"])
            or not np.array_equal(hidden["step"][:n], cols["step"])):
        raise ValueError(f"The individual_rewards config of {dataset!r} is not row-aligned with its default config; "
                         "rebuild the dataset.")
    return hidden["individual_rewards"][:n]


def reward_model_config(info: dict[str, Any], reward_args: dict[str, Any]):
    """Causal-model config for the dataset's shapes, paper defaults (lambda 0.007 on expert data, else 0.005)."""
    from macca_hub.reward.configuration_causal_reward import CausalRewardConfig

    names = set(CausalRewardConfig.__dataclass_fields__) - {"n_agents", "obs_dim", "act_dim"}
    unknown = set(reward_args) - names
    if unknown:
        raise ValueError(f"Unknown causal-model setting(s) {sorted(unknown)} in --reward-args; valid: {sorted(names)}.")
    lam = 0.007 if info.get("quality") == "expert" else 0.005
    args = {"lambda_state": lam, "lambda_action": lam, **reward_args}
    return CausalRewardConfig(n_agents=int(info["n_agents"]), obs_dim=int(info["obs_dim"]),
                              act_dim=int(info["act_dim"]), **args)


def pretrained_rewards(config: TrainPolicyConfig, info: dict[str, Any], n_rows: int,
                       run_dir: Path) -> tuple[np.ndarray, dict[str, Any]]:
    """Per-agent rewards ``[N, n]`` relabelled once: a ``macca_rewards`` column already in the dataset (from
    ``macca-hub relabel``), else ``ds.map(model.relabel, batched=True)`` with a loaded or freshly trained model."""
    from macca_hub.data.loading import arrow_to_numpy, load_columns, load_dataset
    from macca_hub.reward.modeling_causal_reward import CausalRewardModel

    ds = load_dataset(config.dataset)
    if not config.reward_model and "macca_rewards" in ds.column_names:
        # Whole column through Arrow: np.asarray on a datasets column would build it row by row (minutes for 1M).
        col = load_columns(config.dataset, ["macca_rewards"])["macca_rewards"]
        return col[:n_rows], {"source": f"macca_rewards column of {config.dataset}"}
    if config.reward_model:
        model = CausalRewardModel.from_pretrained(config.reward_model)
        record: dict[str, Any] = {"source": str(config.reward_model)}
    else:
        from macca_hub.reward.training import RewardTrainingConfig, train_reward_model

        fields = set(RewardTrainingConfig.__dataclass_fields__)
        unknown = set(config.reward_args) - fields
        if unknown:
            raise ValueError(f"Unknown causal-model setting(s) {sorted(unknown)} in --reward-args; valid: {sorted(fields)}.")
        rcfg = RewardTrainingConfig(dataset=config.dataset, output=str(run_dir / "reward_model"), steps=config.reward_steps,
                                    seed=config.seed, overwrite=True, progress=config.progress, checkpoint_every=0,
                                    num_threads=config.num_threads, **config.reward_args)
        model, metrics = train_reward_model(rcfg)
        record = {"source": str(run_dir / "reward_model"), "steps": config.reward_steps, "metrics": metrics}
    model.check_compatible(info)
    model.eval()
    ds = ds.select_columns(["observations", "actions"]).with_format("arrow")  # no per-row Python objects
    if n_rows < len(ds):
        ds = ds.select(range(n_rows))
    mapped = ds.map(model.relabel, batched=True, batch_size=8192, keep_in_memory=True)
    rewards = arrow_to_numpy(mapped.with_format("arrow")[:].column("macca_rewards"))  # no per-row conversion
    return rewards.astype(np.float32, copy=False), record


# -- evaluation --------------------------------------------------------------------------------
def reference_scores(info: dict[str, Any]) -> tuple[float | None, float | None]:
    """S_random / S_expert from the dataset's info.json, else macca_hub/assets/scores.json, else (None, None)."""
    from macca_hub.scores import reference_scores as shipped

    s_r, s_e = info.get("s_random"), info.get("s_expert")
    if s_r is None or s_e is None:
        ref = shipped().get(info["task"], {})
        s_r, s_e = ref.get("s_random"), ref.get("s_expert")
    return s_r, s_e


def _evaluate(algo: OfflineAlgorithm, task: Any, config: TrainPolicyConfig, refs: tuple) -> dict[str, Any]:
    from macca_hub.algos.evaluation import evaluate_policy

    actor = algo.actor
    with torch.no_grad():
        cpu_actor = {k: v.detach().cpu() for k, v in actor.state_dict().items()}
    from macca_hub.algos.networks import StackedActor

    probe = StackedActor(algo.n_agents, algo.obs_dim, algo.act_dim, algo.config.hidden, algo.config.layers)
    probe.load_state_dict(cpu_actor)

    def act(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return probe(torch.from_numpy(obs).unsqueeze(1)).squeeze(1).numpy()

    returns = evaluate_policy(act, task, config.eval_episodes, config.eval_seed)
    s_r, s_e = refs
    score = None if s_r is None or s_e is None else float(100.0 * (returns.mean() - s_r) / (s_e - s_r))
    return {"return": float(returns.mean()), "return_std": float(returns.std()), "score": score}


# -- checkpoints ---------------------------------------------------------------------------------
def _write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _resume_key(config: TrainPolicyConfig) -> dict[str, Any]:
    keep = ("dataset", "algo", "reward", "paradigm", "reward_model", "reward_args", "algo_args", "reward_scale",
            "batch_size", "seed",
            "max_transitions", "eval_every", "eval_episodes", "eval_seed")
    return {k: getattr(config, k) for k in keep}


def command_line(config: TrainPolicyConfig) -> str:
    args = ["macca-hub", "train-policy"]
    defaults = TrainPolicyConfig()
    for f in dataclasses.fields(config):
        v = getattr(config, f.name)
        if f.name in ("output", "resume", "overwrite", "progress") or v == getattr(defaults, f.name):
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(v, bool):
            args.append(flag if v else "--no-" + flag[2:])
        elif isinstance(v, dict):
            args += [flag, json.dumps(v)]
        else:
            args += [flag, str(v)]
    return shlex.join(args)


# -- the run -------------------------------------------------------------------------------------
def train_policy(config: TrainPolicyConfig) -> dict[str, Any]:
    """Train one run end to end and return its results dict (also written to ``<output>/results.json``)."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm

    from macca_hub.algos.policy import MultiAgentPolicy, PolicyConfig
    from macca_hub.data.loading import dataset_meta, load_columns
    from macca_hub.tasks import make_task
    from macca_hub.utils.io import atomic_directory, read_json

    if config.reward not in REWARDS:
        raise ValueError(f"Unknown reward source {config.reward!r}; choose one of {list(REWARDS)}.")
    if config.paradigm not in PARADIGMS:
        raise ValueError(f"Unknown paradigm {config.paradigm!r}; choose one of {list(PARADIGMS)}.")
    if config.mixed_precision not in PRECISIONS:
        raise ValueError(f"Unknown mixed precision {config.mixed_precision!r}; choose one of {list(PRECISIONS)} "
                         "(fp16 would need loss scaling, which the update does not do).")
    if min(config.num_updates, config.batch_size, config.eval_every, config.eval_episodes) < 1:
        raise ValueError("num_updates, batch_size, eval_every and eval_episodes must be positive.")
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    keep_freed_memory()  # every round reallocates the same large activations: no page faults for them
    run_dir = Path(config.output).expanduser() if config.output else default_output(config)
    results_path, ckpt_dir = run_dir / "results.json", run_dir / "checkpoint"
    if run_dir.exists():
        if config.overwrite:
            import shutil

            shutil.rmtree(run_dir)
        elif (config.resume and results_path.is_file() and read_json(results_path).get("finished")
              and read_json(results_path)["num_updates"] >= config.num_updates):
            return read_json(results_path)  # finished: skip (a larger --num-updates continues it instead)
        elif not config.resume:
            raise FileExistsError(f"Run folder {run_dir} already exists; pass --resume to continue (or skip) it, "
                                  "--overwrite to start again, or choose another --output.")

    info, _ = dataset_meta(config.dataset)
    accelerator = Accelerator(cpu=config.cpu or not torch.cuda.is_available())
    dev, rank, world = accelerator.device, accelerator.process_index, accelerator.num_processes
    cols = load_columns(config.dataset, COLUMNS)
    if config.max_transitions:
        cols = {k: v[: config.max_transitions] for k, v in cols.items()}
    rewards, reward_record = None, None
    if config.reward == "ground-truth":
        rewards = load_ground_truth(config.dataset, cols)
    elif config.reward == "macca" and config.paradigm == "pretrained":
        rewards, reward_record = pretrained_rewards(config, info, len(cols["episode_index"]), run_dir)
    scale = config.reward_scale if config.reward_scale is not None else default_reward_scale(cols["team_reward"])
    data = TrainingData(cols, rewards, dev, scale)
    del cols

    set_seed(config.seed)  # identical initialisation on every process
    algo = make_algorithm(config.algo, data.n_agents, data.obs.shape[-1], data.actions.shape[-1],
                          task=info["task"], quality=info.get("quality"), **config.algo_args).to(dev)
    algo.critic_opt, algo.actor_opt = accelerator.prepare(algo.critic_opt, algo.actor_opt)
    if world > 1:
        def average(params: list) -> None:
            for p in params:
                if p.grad is not None:
                    p.grad.copy_(accelerator.reduce(p.grad, reduction="mean"))
        algo.grad_hook = average
    accelerator.register_for_checkpointing(algo)
    causal, causal_opt = None, None
    if config.reward == "macca" and config.paradigm == "alternate":
        from macca_hub.data.loading import dataset_meta as meta
        from macca_hub.reward.modeling_causal_reward import CausalRewardModel

        if config.reward_model:
            causal = CausalRewardModel.from_pretrained(config.reward_model)
        else:
            causal = CausalRewardModel(reward_model_config(info, config.reward_args))
            causal.set_normalization(meta(config.dataset)[1])
        causal = causal.to(dev).train()
        causal_opt = accelerator.prepare(adam(causal.parameters(), config.reward_lr))
        accelerator.register_for_checkpointing(causal)
        reward_record = {"source": config.reward_model or "trained jointly (alternate)",
                         "config": config_to_dict(causal.config)}

    start, elapsed, curve = 0, 0.0, []
    if config.resume and (ckpt_dir / STATE_NAME).is_file():
        state = read_json(ckpt_dir / STATE_NAME)
        if state["resume_key"] != _resume_key(config):
            diff = sorted(k for k, v in _resume_key(config).items() if state["resume_key"].get(k) != v)
            raise ValueError(f"Checkpoint {ckpt_dir} was made with different settings ({diff}); resume with the same "
                             "options or pass --overwrite.")
        accelerator.load_state(str(ckpt_dir), load_kwargs={"weights_only": True})  # also restores every RNG
        start, elapsed, curve = int(state["update"]), float(state["seconds"]), list(state["curve"])
    else:
        set_seed(config.seed * 1000 + rank)  # each process samples its own batches
    task = make_task(info["task"])
    refs = reference_scores(info)
    per_proc = max(1, config.batch_size // world)
    main = accelerator.is_main_process
    bar = tqdm(total=config.num_updates, initial=start, disable=not (config.progress and main), dynamic_ncols=True,
               desc=f"{config.algo}/{config.reward}", file=sys.stderr)
    if curve and curve[-1].get("score") is not None:
        bar.set_postfix(score=f"{curve[-1]['score']:.1f}")
    logs: dict[str, torch.Tensor] = {}
    # torch.autocast rather than Accelerator(mixed_precision=...): Accelerate's state is one per process and
    # refuses a second precision, and one process may train several runs (the main job, the harness).
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=config.mixed_precision == "bf16")
    t0 = time.perf_counter()
    for u in range(start, config.num_updates):
        idx = data.sample(per_proc, dev)
        with autocast:
            logs.update(update_round(algo, data, idx, causal, causal_opt, accelerator.backward))
        done = u + 1
        if done % config.eval_every == 0 or done == config.num_updates:
            if main:
                point = {"update": done, **_evaluate(algo, task, config, refs),
                         **{k: float(v) for k, v in logs.items()}}
                curve.append(point)
                bar.set_postfix(score=f"{point['score']:.1f}" if point["score"] is not None else None,
                                ret=f"{point['return']:.2f}")
        if config.checkpoint_every and (done % config.checkpoint_every == 0 or done == config.num_updates):
            accelerator.wait_for_everyone()
            secs = elapsed + time.perf_counter() - t0
            if main:
                run_dir.mkdir(parents=True, exist_ok=True)
            with atomic_directory(ckpt_dir, overwrite=True) as tmp:
                accelerator.save_state(str(tmp))
                _write_json_atomic(tmp / STATE_NAME, {"update": done, "seconds": secs, "curve": curve,
                                                      "resume_key": _resume_key(config)})
        bar.update(1)
    bar.close()
    wall = elapsed + time.perf_counter() - t0
    final = curve[-1] if curve else {}
    results = {
        "config": config_to_dict(config), "algo_config": config_to_dict(algo.config), "seed": config.seed,
        "dataset": config.dataset, "task": info["task"], "quality": info.get("quality"), "algo": config.algo,
        "reward": config.reward, "paradigm": config.paradigm if config.reward == "macca" else None,
        "curve": curve, "final_return": final.get("return"), "final_score": final.get("score"),
        "normalized": refs[0] is not None and refs[1] is not None, "s_random": refs[0], "s_expert": refs[1],
        "eval_episodes": config.eval_episodes, "num_updates": config.num_updates, "wall_time": wall,
        "rounds_per_s": (config.num_updates - start) / max(time.perf_counter() - t0, 1e-9),
        "reward_scale": scale, "reward_model": reward_record, "command": command_line(config), "device": str(dev), "processes": world,
        "finished": True,
    }
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        if config.save_policy:
            pcfg = PolicyConfig(task=info["task"], n_agents=algo.n_agents, obs_dim=algo.obs_dim, act_dim=algo.act_dim,
                                hidden=algo.config.hidden, layers=algo.config.layers, algorithm=config.algo,
                                reward=config.reward, dataset=str(config.dataset))
            policy = MultiAgentPolicy.from_actor(algo.actor.cpu(), pcfg)
            policy.results = results
            policy.save_pretrained(run_dir / "policy")
            results["policy"] = str(run_dir / "policy")
        _write_json_atomic(results_path, results)
    return results
