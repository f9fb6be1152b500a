"""Credit-assignment fidelity of a causal reward model, against the hidden per-agent rewards.

The ``individual_rewards`` config is joined to the ``default`` config on ``(episode_index, step)``
(by row order when both configs are already aligned, which is how our writer stores them).
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
import torch

from macca_hub.data.format import INDIVIDUAL_CONFIG
from macca_hub.data.loading import dataset_meta
from macca_hub.data.loading import load_columns
from macca_hub.reward.modeling_causal_reward import CausalRewardModel

METRIC_KEYS = ("team_r2", "team_mse", "agent_pearson", "agent_pearson_mean", "relative_credit_pearson",
               "state_mask_density", "action_mask_density")


def load_eval_arrays(dataset: str | os.PathLike, episodes: Sequence[int] | None = None) -> dict[str, np.ndarray]:
    """Observations, actions, team and hidden individual rewards of ``episodes`` (all if None), aligned."""
    cols = load_columns(dataset, ["episode_index", "step", "observations", "actions", "team_reward"])
    hidden = load_columns(dataset, ["episode_index", "step", "individual_rewards"], config=INDIVIDUAL_CONFIG)
    if np.array_equal(cols["episode_index"], hidden["episode_index"]) and np.array_equal(cols["step"], hidden["step"]):
        indiv = hidden["individual_rewards"]
    else:  # join on (episode_index, step)
        key = cols["episode_index"].astype(np.int64) * (1 << 20) + cols["step"]
        hkey = hidden["episode_index"].astype(np.int64) * (1 << 20) + hidden["step"]
        order = np.argsort(hkey, kind="stable")
        pos = np.searchsorted(hkey[order], key).clip(0, len(hkey) - 1)
        found = hkey[order][pos] == key
        if not found.all():
            raise ValueError(f"{int((~found).sum())} rows of {dataset} have no entry in its individual_rewards config; "
                             "the two configs disagree, rebuild the dataset.")
        indiv = hidden["individual_rewards"][order][pos]
    keep = slice(None)
    if episodes is not None:
        keep = np.isin(cols["episode_index"], np.asarray(list(episodes), dtype=np.int64))
        if not keep.any():
            raise ValueError(f"None of the {len(episodes)} requested episodes are in {dataset}.")
    return {"episode_index": cols["episode_index"][keep], "observations": cols["observations"][keep],
            "actions": cols["actions"][keep], "team_reward": cols["team_reward"][keep],
            "individual_rewards": np.asarray(indiv)[keep]}


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x - x.mean(), y - y.mean()
    den = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / den) if den > 0 else float("nan")


@torch.no_grad()
def predict(model: CausalRewardModel, observations: np.ndarray, actions: np.ndarray,
            batch_size: int = 8192) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inference rewards [N, n], edge frequencies (soft mask > h) [n, D] and mean soft masks [n, D]."""
    model.eval()
    c = model.config
    device = model.state_mean.device
    n, d = c.n_agents, c.state_dim + c.action_dim
    rewards = np.empty((len(observations), n), np.float32)
    edges = torch.zeros(n, d, dtype=torch.float64, device=device)
    soft_sum = torch.zeros(n, d, dtype=torch.float64, device=device)
    for lo in range(0, len(observations), batch_size):
        obs = torch.as_tensor(observations[lo:lo + batch_size], device=device)
        act = torch.as_tensor(actions[lo:lo + batch_size], device=device)
        x = model.normalized_inputs(obs, act)
        soft = model.masks(x).expand(len(x), n, d)
        edge = (soft > c.threshold).to(x.dtype)
        used = edge if c.binarize else soft
        rewards[lo:lo + len(x)] = model.rewards_from_masks(x, used).cpu().numpy()
        edges += edge.sum(0, dtype=torch.float64)
        soft_sum += soft.sum(0, dtype=torch.float64)
    rows = max(len(observations), 1)
    return rewards, (edges / rows).cpu().numpy(), (soft_sum / rows).cpu().numpy()


def fidelity_metrics(pred: np.ndarray, team: np.ndarray, indiv: np.ndarray) -> dict[str, Any]:
    """Team R^2 / MSE, per-agent Pearson and relative-credit Pearson (float64 throughout)."""
    pred, team, indiv = (np.asarray(a, np.float64) for a in (pred, team, indiv))
    total = pred.sum(1)
    sse = float(np.square(total - team).sum())
    sst = float(np.square(team - team.mean()).sum())
    agent = [_pearson(pred[:, i], indiv[:, i]) for i in range(pred.shape[1])]
    rel_p, rel_t = pred - pred.mean(1, keepdims=True), indiv - indiv.mean(1, keepdims=True)
    return {
        "team_r2": 1.0 - sse / sst if sst > 0 else float("nan"),
        "team_mse": sse / len(team),
        "agent_pearson": agent,
        "agent_pearson_mean": float(np.mean(agent)),
        "relative_credit_pearson": _pearson(rel_p.reshape(-1), rel_t.reshape(-1)),
        "relative_credit_pearson_per_agent": [_pearson(rel_p[:, i], rel_t[:, i]) for i in range(pred.shape[1])],
    }


def evaluate_reward_model(model: CausalRewardModel, dataset: str | os.PathLike,
                          episodes: Sequence[int] | str | None = None, batch_size: int = 8192) -> dict[str, Any]:
    """Fidelity metrics on ``episodes`` of ``dataset``.

    ``episodes``: a list of episode ids, ``"all"``, or None for the held-out episodes recorded at
    training (all episodes if the model records none).

    Returns the metrics plus ``mean_masks`` ({"state": [n][D_s], "action": [n][D_a]}: how often each
    edge is on, the heatmap's data) and ``mean_soft_masks``.
    """
    info, _ = dataset_meta(dataset)
    model.check_compatible(info)
    if isinstance(episodes, str):
        if episodes != "all":
            raise ValueError(f"episodes must be a list of episode ids, 'all' or None (held-out), got {episodes!r}.")
        episodes = None
    elif episodes is None:
        episodes = model.card_info.get("training", {}).get("eval_episodes")
    arrays = load_eval_arrays(dataset, episodes)
    pred, edges, soft = predict(model, arrays["observations"], arrays["actions"], batch_size)
    ds = model.config.state_dim
    metrics = fidelity_metrics(pred, arrays["team_reward"], arrays["individual_rewards"])
    metrics.update({
        "rows": int(len(pred)),
        "episodes": int(len(np.unique(arrays["episode_index"]))),
        "state_mask_density": edges[:, :ds].mean(1).tolist(),
        "action_mask_density": edges[:, ds:].mean(1).tolist(),
        "mean_masks": {"state": edges[:, :ds].tolist(), "action": edges[:, ds:].tolist()},
        "mean_soft_masks": {"state": soft[:, :ds].tolist(), "action": soft[:, ds:].tolist()},
    })
    return metrics


def format_metrics(metrics: dict[str, Any]) -> str:
    """Human-readable summary lines (what ``macca-hub evaluate-reward`` prints)."""
    def vec(v: Sequence[float]) -> str:
        return "[" + ", ".join(f"{x:.3f}" for x in v) + "]"

    return "\n".join([
        f"held-out rows        {metrics['rows']} ({metrics['episodes']} episodes)",
        f"team reward R^2      {metrics['team_r2']:.4f}   (MSE {metrics['team_mse']:.4f})",
        f"per-agent Pearson    {vec(metrics['agent_pearson'])}  mean {metrics['agent_pearson_mean']:.3f}",
        f"relative credit r    {metrics['relative_credit_pearson']:.3f}  per agent {vec(metrics['relative_credit_pearson_per_agent'])}",
        f"state-mask density   {vec(metrics['state_mask_density'])}",
        f"action-mask density  {vec(metrics['action_mask_density'])}",
    ])
