"""MATD3 behaviour-policy trainer for the MPE tasks (one readable file, CleanRL style).

Every agent has its own deterministic tanh actor (on its own observation) and its own twin
centralised critics (on all agents' observations and actions), as in the MATD3 used for the
original offline MPE datasets. All networks of a group of agents are *stacked* (one weight
tensor with a leading agent axis, evaluated with ``baddbmm``), so acting and learning cost a few
batched matmuls, not a Python loop of small networks.

Non-team agents (the prey of PP, the good agents of World) are a second group trained jointly in
the same run with their stock mpe2 rewards; their final actor is frozen and shipped as part of the
task. The team learns from its macca individual rewards (each agent's own reward; see README).

Outputs in ``--output``: ``snapshots/step_XXXXXXX/{team,opponent}/`` (``MLPActor`` folders, the
step-0 one is the randomly initialised actor), ``curve.jsonl`` (evaluation during training),
``actions.npz`` (every applied action, team and opponents, episode by episode: re-simulating them
from ``episode_seed(seed, e)`` reproduces the replay buffer exactly) and ``config.json``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from dataset_builders.policies import MLPActor, MLPActorConfig, StackedMLP
from macca_hub.tasks import MPETask, episode_seed, make_task
from macca_hub.utils.configs import cfg, config_to_dict
from macca_hub.utils.io import write_json


@dataclasses.dataclass
class MATD3Config:
    """Hyper-parameters of one MATD3 run (defaults: the ones used for the shipped policies)."""

    task: str = cfg("cn", help="task to train on", choices=["cn", "pp", "world"])
    output: str = cfg("runs/matd3-cn", help="run folder (snapshots, curve, action log)")
    seed: int = cfg(0, help="seed of the networks, the noise and the training episodes")
    total_steps: int = cfg(300_000, help="environment steps (25 per episode)")
    learning_starts: int = cfg(5_000, help="steps of uniform-random actions before learning starts")
    buffer_size: int = cfg(1_000_000, help="replay buffer capacity (transitions)")
    batch_size: int = cfg(256, help="minibatch size")
    gamma: float = cfg(0.95, help="discount")
    tau: float = cfg(0.01, help="Polyak rate of the target networks")
    actor_lr: float = cfg(1e-3, help="actor learning rate (Adam)")
    critic_lr: float = cfg(1e-3, help="critic learning rate (Adam)")
    hidden: int = cfg(64, help="hidden units of actors and critics (2 hidden layers)")
    expl_noise: float = cfg(0.1, help="std of the Gaussian exploration noise on actions")
    target_noise: float = cfg(0.2, help="std of the target-policy smoothing noise")
    noise_clip: float = cfg(0.5, help="clip of the target-policy smoothing noise")
    policy_delay: int = cfg(2, help="critic updates per actor update")
    train_every: int = cfg(4, help="environment steps between gradient steps")
    reward_scale: float = cfg(0.1, help="rewards are multiplied by this for learning (returns are reported unscaled)")
    action_reg: float = cfg(1e-2, help="weight of the penalty on the actors' squared pre-tanh outputs")
    grad_clip: float = cfg(1.0, help="max gradient norm per group and network")
    contact_penalty: float = cfg(0.0, help="extra penalty per other team agent in contact, added to each team agent's "
                                           "learning reward only (shapes the behaviour policy; dataset rewards are "
                                           "the task's)")
    snapshot_every: int = cfg(5_000, help="save the actors every this many steps")
    eval_episodes: int = cfg(10, help="evaluation episodes per snapshot (against the current opponent)")
    threads: int = cfg(1, help="torch CPU threads")


class Group(nn.Module):
    """``k`` agents sharing an observation size: stacked actors, stacked twin critics, their targets."""

    def __init__(self, k: int, obs_dim: int, joint_dim: int, hidden: int) -> None:
        super().__init__()
        self.k = k
        self.actor = StackedMLP(k, [obs_dim, hidden, hidden, 2], out_act="tanh")
        self.critic = StackedMLP(2 * k, [joint_dim, hidden, hidden, 1])  # [q1 of agents 0..k-1, q2 of 0..k-1]
        self.actor_target = StackedMLP(k, [obs_dim, hidden, hidden, 2], out_act="tanh")
        self.critic_target = StackedMLP(2 * k, [joint_dim, hidden, hidden, 1])
        self.actor_target.load_state_dict(self.actor.state_dict())
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.actor_target.requires_grad_(False)
        self.critic_target.requires_grad_(False)

    def q(self, net: StackedMLP, joint: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``joint [B, J]`` (shared) or ``[k, B, J]`` (per agent) -> (q1, q2), each ``[k, B]``."""
        x = joint.expand(2 * self.k, *joint.shape[-2:]) if joint.dim() == 2 else joint.repeat(2, 1, 1)
        out = net(x)[..., 0]
        return out[: self.k], out[self.k:]


class Buffer:
    """Flat numpy replay buffer of joint transitions (team group first, then opponents)."""

    def __init__(self, size: int, dims: dict[str, tuple[int, ...]]) -> None:
        self.data = {k: np.zeros((size, *d), np.float32) for k, d in dims.items()}
        self.size, self.n, self.ptr = size, 0, 0

    def add(self, **row: np.ndarray) -> None:
        for k, v in row.items():
            self.data[k][self.ptr] = v
        self.ptr = (self.ptr + 1) % self.size
        self.n = min(self.n + 1, self.size)

    def sample(self, rng: np.random.Generator, batch: int) -> dict[str, torch.Tensor]:
        idx = rng.integers(0, self.n, size=batch)
        return {k: torch.from_numpy(v[idx]) for k, v in self.data.items()}


def opponent_rewards(task: MPETask) -> np.ndarray:
    """Stock mpe2 rewards of the non-team agents (prey / good agents) in the current world state."""
    return np.array([task.scenario.reward(a, task.world) for a in task.opponent_agents], np.float32)


def task_metrics(task: MPETask) -> dict[str, float]:
    """Per-step quality indicators: cn landmarks occupied (d < 0.1) and collisions; pp/world captures."""
    pos = MPETask._positions(task.team_agents)
    sizes = np.array([a.size for a in task.team_agents])
    if task.name == "cn":
        lm = MPETask._positions(task.world.landmarks)
        d = np.linalg.norm(lm[:, None] - pos[None], axis=-1).min(axis=1)
        return {"occupied": float((d < 0.1).sum()), "collisions": float(task.team_contacts().sum() / 2)}
    opp = MPETask._positions(task.opponent_agents)
    touch = MPETask._touching(pos, opp, sizes, np.array([a.size for a in task.opponent_agents]))
    return {"captures": float(touch.any(axis=0).sum()), "touches": float(touch.sum())}


def _actor_to_np(actor: StackedMLP, obs: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return actor(torch.from_numpy(np.ascontiguousarray(obs, np.float32))[:, None, :])[:, 0].numpy()


def rollout(task: MPETask, act: Callable[[np.ndarray], np.ndarray], seed: int, episodes: range,
            noise_std: float = 0.0) -> tuple[list[float], dict[str, float]]:
    """Run ``episodes`` with ``act`` (plus Gaussian noise); per-episode returns and summed task metrics.

    The return is the mean over team agents of summed individual rewards. ``cn``: ``occupied_last`` =
    landmarks with an agent closer than 0.1 at the last step, ``collisions`` (agent pairs in contact,
    summed over steps), ``collision_free`` (episodes without any); ``pp``/``world``: ``captures`` =
    steps x opponents in contact, ``with_capture`` (episodes with at least one). Shared by
    training-time evaluation and ``measure_scores``.
    """
    rets, sums = [], {}
    for e in episodes:
        eseed = episode_seed(seed, e)
        rng = np.random.default_rng([eseed, 1])
        obs, _ = task.reset(eseed)
        ret, last, episode = 0.0, {}, {}
        for _ in range(task.max_steps):
            a = act(obs)
            if noise_std > 0:
                a = a + rng.normal(0.0, noise_std, size=a.shape)
            res = task.step(np.clip(a, -1, 1).astype(np.float32))
            ret += float(res.individual_rewards.mean(dtype=np.float64))
            last = task_metrics(task)
            for k, v in last.items():
                episode[k] = episode.get(k, 0.0) + v
            obs = res.observations
        rets.append(ret)
        for k, v in episode.items():
            sums[k] = sums.get(k, 0.0) + v
        if "occupied" in last:
            sums["occupied_last"] = sums.get("occupied_last", 0.0) + last["occupied"]
            sums["collision_free"] = sums.get("collision_free", 0.0) + float(episode["collisions"] == 0)
        else:
            sums["with_capture"] = sums.get("with_capture", 0.0) + float(episode["captures"] > 0)
    sums.pop("occupied", None)
    return rets, sums


def evaluate(task: MPETask, team_actor: Any, opp_actor: Any | None, episodes: int, seed: int,
             noise_std: float = 0.0) -> dict[str, float]:
    """Mean per-agent episode return and per-episode task metrics of ``team_actor`` (see ``rollout``)."""
    if opp_actor is not None:
        task.opponent_policy = lambda o: _actor_to_np(opp_actor, o).astype(np.float64)
    rets, sums = rollout(task, lambda o: _actor_to_np(team_actor, o), seed, range(episodes), noise_std)
    out = {k: v / episodes for k, v in sums.items()}
    out.update(return_mean=float(np.mean(rets)), return_std=float(np.std(rets)))
    return out


def save_actor(actor: StackedMLP, folder: Path, task: str, role: str, obs_dim: int, hidden: int,
               training: dict[str, Any]) -> None:
    model = MLPActor(MLPActorConfig(task=task, role=role, n_agents=actor.k, obs_dim=obs_dim, hidden=hidden,
                                    training=training))
    model.net.load_state_dict(actor.state_dict())
    model.save_pretrained(folder)


def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    with torch.no_grad():
        for t, s in zip(target.parameters(), source.parameters()):
            t.lerp_(s, tau)


def train(config: MATD3Config) -> Path:
    """Run MATD3; returns the run folder."""
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    out = Path(config.output)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", config_to_dict(config))
    placeholder = lambda o: np.zeros((len(o), 2))  # noqa: E731 -- replaced by the co-trained opponent below
    task = make_task(config.task, opponent_policy=placeholder)
    eval_task = make_task(config.task, opponent_policy=placeholder)
    spec = task.spec
    n, m, od, ood = spec.n_agents, len(spec.opponents), spec.obs_dim, spec.opponent_obs_dim
    joint_obs, joint_act = n * od + m * ood, 2 * (n + m)
    team = Group(n, od, joint_obs + joint_act, config.hidden)
    opp = Group(m, ood, joint_obs + joint_act, config.hidden) if m else None
    groups = [g for g in (team, opp) if g is not None]
    actor_opt = torch.optim.Adam([p for g in groups for p in g.actor.parameters()], lr=config.actor_lr)
    critic_opt = torch.optim.Adam([p for g in groups for p in g.critic.parameters()], lr=config.critic_lr)
    dims = {"obs": (n, od), "act": (n, 2), "rew": (n,), "next_obs": (n, od)}
    if m:
        dims.update(opp_obs=(m, ood), opp_act=(m, 2), opp_rew=(m,), opp_next_obs=(m, ood))
    buf = Buffer(min(config.buffer_size, config.total_steps), dims)
    T = task.max_steps
    n_episodes = config.total_steps // T
    log_team = np.zeros((n_episodes, T, n, 2), np.float32)
    log_opp = np.zeros((n_episodes, T, m, 2), np.float32)
    log_rew = np.zeros((n_episodes, T, n), np.float32)  # lets anyone check that a replay reproduces the buffer
    info = {"command": "macca-hub train-behaviour " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in config_to_dict(config).items()), "seed": config.seed}

    def joint(b: dict[str, torch.Tensor], nxt: bool, acts: torch.Tensor, opp_acts: torch.Tensor | None) -> torch.Tensor:
        o = b["next_obs" if nxt else "obs"].flatten(1)
        parts = [o]
        if m:
            parts.append(b["opp_next_obs" if nxt else "opp_obs"].flatten(1))
        parts.append(acts.flatten(-2))
        if m:
            parts.append(opp_acts.flatten(-2))
        return torch.cat(parts, -1)

    def group_obs(b: dict[str, torch.Tensor], g: Group, nxt: bool) -> torch.Tensor:
        key = ("next_obs" if nxt else "obs") if g is team else ("opp_next_obs" if nxt else "opp_obs")
        return b[key].transpose(0, 1)  # [k, B, obs]

    def smoothed(g: Group, obs: torch.Tensor) -> torch.Tensor:
        a = g.actor_target(obs)
        noise = (torch.randn_like(a) * config.target_noise).clamp(-config.noise_clip, config.noise_clip)
        return (a + noise).clamp(-1, 1).transpose(0, 1)  # [B, k, 2]

    def update(step: int) -> dict[str, float]:
        b = buf.sample(rng, config.batch_size)
        with torch.no_grad():
            na = smoothed(team, group_obs(b, team, True))
            nopp = smoothed(opp, group_obs(b, opp, True)) if opp else None
            nj = joint(b, True, na, nopp)
        cur = joint(b, False, b["act"], b.get("opp_act"))
        critic_loss = torch.zeros(())
        for g, rkey in ((team, "rew"), (opp, "opp_rew")):
            if g is None:
                continue
            with torch.no_grad():
                q1t, q2t = g.q(g.critic_target, nj)
                y = b[rkey].T * config.reward_scale + config.gamma * torch.minimum(q1t, q2t)
            q1, q2 = g.q(g.critic, cur)
            critic_loss = critic_loss + ((q1 - y) ** 2).mean(1).sum() + ((q2 - y) ** 2).mean(1).sum()
        critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        for g in groups:
            nn.utils.clip_grad_norm_(g.critic.parameters(), config.grad_clip * g.k)
        critic_opt.step()
        stats = {"critic_loss": float(critic_loss.detach())}
        if step % config.policy_delay == 0:
            acts = [b["act"]] + ([b["opp_act"]] if m else [])
            all_act = torch.cat(acts, 1)  # [B, n+m, 2]
            actor_loss = torch.zeros(())
            offset = 0
            for g, okey in ((team, "obs"), (opp, "opp_obs")):
                if g is None:
                    continue
                pre = g.actor(b[okey].transpose(0, 1), pre_activation=True)  # [k, B, 2]
                new = torch.tanh(pre)
                # keeps the tanh out of saturation, where its gradient vanishes (agents then fly off at full force)
                actor_loss = actor_loss + config.action_reg * pre.pow(2).mean((1, 2)).sum()
                mask = torch.zeros(g.k, 1, n + m, 1)
                mask[torch.arange(g.k), 0, offset + torch.arange(g.k), 0] = 1.0
                mixed = all_act.unsqueeze(0) * (1 - mask) + new.unsqueeze(2) * mask  # agent i's slot replaced
                obs_parts = [b["obs"].flatten(1)] + ([b["opp_obs"].flatten(1)] if m else [])
                jx = torch.cat([torch.cat(obs_parts, -1).expand(g.k, -1, -1), mixed.flatten(2)], -1)
                q1, _ = g.q(g.critic, jx)
                actor_loss = actor_loss - q1.mean(1).sum()
                offset += g.k
            actor_opt.zero_grad(set_to_none=True)
            actor_loss.backward()
            for g in groups:
                nn.utils.clip_grad_norm_(g.actor.parameters(), config.grad_clip * g.k)
            actor_opt.step()
            for g in groups:
                soft_update(g.actor_target, g.actor, config.tau)
                soft_update(g.critic_target, g.critic, config.tau)
            stats["actor_loss"] = float(actor_loss.detach())
        return stats

    def save_log(episodes: int) -> None:
        """The action log of every finished episode (written at each snapshot, so a run can be cut short)."""
        arrays = {"team_actions": log_team[:episodes], "team_rewards": log_rew[:episodes]}
        if m:
            arrays["opponent_actions"] = log_opp[:episodes]
        tmp = out / "actions.tmp.npz"
        np.savez(tmp, **arrays)
        tmp.replace(out / "actions.npz")

    def snapshot(step: int) -> None:
        save_log(step // T)
        folder = out / "snapshots" / f"step_{step:07d}"
        meta = {**info, "env_step": step}
        save_actor(team.actor, folder / "team", config.task, "team", od, config.hidden, meta)
        if opp:
            save_actor(opp.actor, folder / "opponent", config.task, "opponent", ood, config.hidden, meta)
        ev = evaluate(eval_task, team.actor, opp.actor if opp else None, config.eval_episodes, 10_000 + config.seed)
        row = {"step": step, "time_s": round(time.time() - t0, 1), **ev, **last_stats}
        with open(out / "curve.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)

    t0 = time.time()
    last_stats: dict[str, float] = {}
    (out / "curve.jsonl").unlink(missing_ok=True)
    snapshot(0)
    step, updates = 0, 0
    opp_act = np.zeros((m, 2), np.float32)
    task.opponent_policy = lambda _o: opp_act.astype(np.float64)
    for e in range(n_episodes):
        obs, _ = task.reset(episode_seed(config.seed, e))
        o_obs = task._opp_obs
        for t in range(T):
            if step < config.learning_starts:
                act = rng.uniform(-1, 1, size=(n, 2))
                oa = rng.uniform(-1, 1, size=(m, 2))
            else:
                act = _actor_to_np(team.actor, obs) + rng.normal(0, config.expl_noise, size=(n, 2))
                oa = (_actor_to_np(opp.actor, o_obs) + rng.normal(0, config.expl_noise, size=(m, 2))) if m \
                    else np.zeros((0, 2))
            act = np.clip(act, -1, 1).astype(np.float32)
            opp_act[...] = np.clip(oa, -1, 1).astype(np.float32)
            res = task.step(act)
            log_team[e, t], log_opp[e, t], log_rew[e, t] = act, opp_act, res.individual_rewards
            rew = res.individual_rewards
            if config.contact_penalty:
                rew = rew - config.contact_penalty * task.team_contacts().astype(np.float32)
            row = {"obs": obs, "act": act, "rew": rew, "next_obs": res.observations}
            if m:
                row.update(opp_obs=o_obs, opp_act=opp_act, opp_rew=opponent_rewards(task), opp_next_obs=task._opp_obs)
            buf.add(**row)
            obs, o_obs = res.observations, task._opp_obs
            step += 1
            if step >= config.learning_starts and step % config.train_every == 0:
                updates += 1
                last_stats.update(update(updates))
            if step % config.snapshot_every == 0:
                snapshot(step)
    save_log(n_episodes)
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    from macca_hub.utils.configs import add_dataclass_arguments, dataclass_from_args

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_dataclass_arguments(parser, MATD3Config)
    train(dataclass_from_args(MATD3Config, parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
