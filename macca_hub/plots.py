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
