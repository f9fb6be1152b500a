"""Card templates (Jinja2, rendered with ``huggingface_hub`` card classes) for datasets, reward models, policies."""

from __future__ import annotations

from pathlib import Path

TEMPLATE_DIR = Path(__file__).parent


def template_path(kind: str) -> Path:
    """Path of the template for ``kind`` in {'dataset', 'reward_model', 'policy', 'behaviour_policy'}."""
    path = TEMPLATE_DIR / f"{kind}_card.md"
    if not path.is_file():
        choices = sorted(p.name.removesuffix("_card.md") for p in TEMPLATE_DIR.glob("*_card.md"))
        raise ValueError(f"No card template {kind!r}; available: {choices}.")
    return path
