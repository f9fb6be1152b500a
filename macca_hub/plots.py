"""Figures written next to datasets and models (matplotlib, headless)."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def return_histogram(returns: np.ndarray, path: str | os.PathLike, title: str) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.hist(np.asarray(returns), bins=50, color="#4c72b0")
    ax.axvline(float(np.mean(returns)), color="k", linestyle="--", label=f"mean {np.mean(returns):.2f}")
    ax.set_xlabel("episode return (mean over agents)")
    ax.set_ylabel("episodes")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def mask_heatmap(state_mask: np.ndarray, action_mask: np.ndarray, path: str | os.PathLike, title: str,
                 obs_dim: int | None = None, act_dim: int | None = None, threshold: float | None = None) -> None:
    """Mean causal masks (agents x joint dims), state->reward and action->reward, like the paper's figure.

    Dotted lines separate the blocks of dims that belong to each agent's own observation/action.
    """
    state_mask, action_mask = np.asarray(state_mask, float), np.asarray(action_mask, float)
    n = state_mask.shape[0]
    fig, axes = plt.subplots(1, 2, figsize=(max(6.0, 0.16 * state_mask.shape[1] + 3.0), 1.2 + 0.45 * n), dpi=100,
                             gridspec_kw={"width_ratios": [state_mask.shape[1], max(action_mask.shape[1], 4)]})
    for ax, m, name, block in ((axes[0], state_mask, "state -> reward", obs_dim), (axes[1], action_mask, "action -> reward", act_dim)):
        im = ax.imshow(m, aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_yticks(range(n), [f"$r^{{{i}}}$" for i in range(n)])
        ax.set_xlabel(f"{name} (joint dim)")
        if block:
            for b in range(block, m.shape[1], block):
                ax.axvline(b - 0.5, color="w", linestyle=":", linewidth=1)
    cap = f" (edge: mask > {threshold:g})" if threshold is not None else ""
    fig.suptitle(f"{title}: mean masks{cap}", fontsize=10)
    fig.colorbar(im, ax=axes, fraction=0.03, pad=0.02)
    fig.savefig(path, metadata={"Software": None}, bbox_inches="tight")
    plt.close(fig)


def learning_curves(curves: dict[str, list[list[dict]]], path: str | os.PathLike, title: str,
                    normalized: bool = True) -> None:
    """Mean +- std over seeds of evaluation curves; ``curves[label]`` is one list of points per seed.

    A point is ``{"update": int, "score": float | None, "return": float}``; the score is plotted when
    ``normalized`` (else the raw return). Seeds are aligned on their common updates.
    """
    key = "score" if normalized else "return"
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for label, runs in curves.items():
        runs = [r for r in runs if r]
        if not runs:
            continue
        steps = sorted(set.intersection(*[{p["update"] for p in r} for r in runs]))
        vals = np.array([[next(p[key] for p in r if p["update"] == s) for s in steps] for r in runs], dtype=float)
        mean, std = vals.mean(0), vals.std(0)
        ax.plot(steps, mean, label=label)
        ax.fill_between(steps, mean - std, mean + std, alpha=0.2)
    ax.set_xlabel("updates")
    ax.set_ylabel("normalized score" if normalized else "episode return")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
