"""A tiny HubMixin model with a card, shared by the sharing and mirror tests (and their subprocesses)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from macca_hub.hub import HubMixin
from macca_hub.utils.configs import cfg


@dataclass
class TinyNetConfig:
    in_dim: int = cfg(4, help="input size")
    hidden: int = cfg(8, help="hidden size")


class TinyNet(nn.Module, HubMixin):
    """The smallest HubMixin model with a card: enough to exercise the model path of the mirror."""

    config_class = TinyNetConfig
    model_type = "macca_test_tiny_net"

    def __init__(self, config: TinyNetConfig) -> None:
        super().__init__()
        self.config = config
        self.net = nn.Sequential(nn.Linear(config.in_dim, config.hidden), nn.Tanh(), nn.Linear(config.hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def extra_files(self, folder: Path) -> None:
        from huggingface_hub import ModelCard, ModelCardData

        data = ModelCardData(license="apache-2.0", library_name="macca_hub", tags=["macca", "test"])
        ModelCard(f"---\n{data.to_yaml()}\n---\n\n# Tiny test net\n\nA two-layer MLP for the mirror test.\n").save(
            folder / "README.md")


def probe_inputs() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {"x": torch.randn(5, 4, generator=g), "obs": torch.randn(5, 3, 18, generator=g),
            "act": torch.rand(5, 3, 2, generator=g) * 2 - 1}
