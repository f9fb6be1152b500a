"""The trained multi-agent actor as a Hub model: ``config.json`` + ``model.safetensors`` + a card.

Only the decentralised actors are kept (one stacked MLP, slice i = agent i): that is all a team needs
to act. ``act(obs [n, obs_dim]) -> forces [n, 2]`` works on numpy or torch inputs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from macca_hub.algos.networks import StackedActor
from macca_hub.hub import HubMixin
from macca_hub.utils.configs import cfg
from macca_hub.utils.io import write_json

RESULTS_NAME = "results.json"


@dataclasses.dataclass
class PolicyConfig:
    """Shapes of the actor plus where it came from (shown on the card)."""

    task: str = cfg("cn", help="task the policy acts in")
    n_agents: int = cfg(3, help="agents in the team")
    obs_dim: int = cfg(18, help="observation size of one agent")
    act_dim: int = cfg(2, help="action size of one agent")
    hidden: int = cfg(64, help="hidden units of each agent's MLP")
    layers: int = cfg(2, help="hidden layers of each agent's MLP")
    algorithm: str = cfg("omar", help="offline MARL backbone that trained it")
    reward: str = cfg("team", help="reward source: team, macca or ground-truth")
    dataset: str = cfg("", help="training dataset")


class MultiAgentPolicy(nn.Module, HubMixin):
    """Decentralised deterministic actors of every agent of the team."""

    config_class: ClassVar[type] = PolicyConfig
    model_type: ClassVar[str] = "macca-marl-policy"

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__()
        self.config = config
        self.actor = StackedActor(config.n_agents, config.obs_dim, config.act_dim, config.hidden, config.layers)
        #: Training record (results JSON) written next to the weights and shown on the card.
        self.results: dict[str, Any] = {}

    @classmethod
    def from_actor(cls, actor: StackedActor, config: PolicyConfig) -> "MultiAgentPolicy":
        policy = cls(config)
        policy.actor.load_state_dict(actor.state_dict())
        return policy.eval()

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """``[n, ..., obs_dim] -> [n, ..., act_dim]`` in [-1, 1]."""
        return self.actor(observations)

    @torch.no_grad()
    def act(self, observations: np.ndarray | torch.Tensor) -> np.ndarray:
        """Forces ``[n, act_dim]`` for one time step's observations ``[n, obs_dim]``."""
        obs = torch.as_tensor(np.asarray(observations, dtype=np.float32))
        if obs.shape != (self.config.n_agents, self.config.obs_dim):
            raise ValueError(f"expected observations of shape {(self.config.n_agents, self.config.obs_dim)}, "
                             f"got {tuple(obs.shape)}")
        return self.actor(obs.unsqueeze(1)).squeeze(1).numpy()

    def extra_files(self, folder: Path) -> None:
        from huggingface_hub import ModelCardData

        from macca_hub.cards import render_model_card

        write_json(folder / RESULTS_NAME, self.results)
        curve = self.results.get("curve", [])
        if curve:
            from macca_hub.plots import learning_curves

            label = f"{self.config.algorithm} ({self.config.reward})"
            learning_curves({label: [curve]}, folder / "learning_curve.png", title=self.config.dataset or self.config.task,
                            normalized=self.results.get("final_score") is not None)
        card_data = ModelCardData(license="apache-2.0", library_name="macca_hub",
                                  tags=["macca", "offline-rl", "multi-agent", "mpe", self.config.task,
                                        self.config.algorithm], datasets=[self.config.dataset] if "/" in self.config.dataset else None)
        render_model_card(folder, card_data, "policy", config=self.config, results=self.results,
                          curve=curve, has_plot=bool(curve))
