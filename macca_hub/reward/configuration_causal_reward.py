"""Configuration of the causal reward model (shapes, graph kind, network sizes, sparsity weights).

Everything needed to rebuild the network lives here and is written to ``config.json``; the
normalisation statistics are tensors, so they travel in ``model.safetensors`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from macca_hub.utils.configs import cfg

GRAPHS = ("dynamic", "fixed", "full")
ACTIVATIONS = ("relu", "tanh", "gelu", "silu", "elu")


@dataclass
class CausalRewardConfig:
    """Shapes and hyper-parameters of :class:`CausalRewardModel` (the paper's defaults)."""

    n_agents: int = cfg(3, help="agents in the team (the length of the per-agent arrays)")
    obs_dim: int = cfg(18, help="observation size of one agent; the joint state has n_agents * obs_dim dims")
    act_dim: int = cfg(2, help="action size of one agent; the joint action has n_agents * act_dim dims")
    graph: str = cfg("dynamic", choices=list(GRAPHS),
                     help="causal structure psi_g: 'dynamic' (masks predicted from (s, a, i)), 'fixed' "
                          "(one learned mask per agent) or 'full' (all ones, no structure: ablation)")
    hidden_sizes: tuple[int, ...] = cfg((256, 256, 256), help="hidden layers of the reward predictor psi_r")
    mask_hidden_sizes: tuple[int, ...] = cfg((256, 256), help="hidden layers of the dynamic structure predictor psi_g")
    activation: str = cfg("relu", choices=list(ACTIVATIONS), help="hidden activation of both networks")
    mask_init: float = cfg(0.05, help="initial mask value (sigmoid output) of the other agents' dims: below h, so "
                                      "training starts from each agent's own dims and grows the edges the data needs")
    mask_init_own: float = cfg(0.95, help="initial mask value of agent i's own observation and action dims in its "
                                          "masks: a learnable prior that breaks the symmetry between agents")
    lambda_state: float = cfg(0.005, help="lambda1: weight of the L1 penalty on the state->reward masks "
                                          "(paper: 0.007 for expert data, 0.005 otherwise)")
    lambda_action: float = cfg(0.005, help="lambda2: weight of the L1 penalty on the action->reward masks")
    threshold: float = cfg(0.1, help="h: at inference a mask entry counts as an edge when it is above h")
    binarize: bool = cfg(True, help="binarise the masks with the threshold at inference (eval mode)")
    straight_through: bool = cfg(True, help="with binarize, also train on the binarised masks, passing the sigmoid's "
                                            "gradient straight through, so training and inference see the same "
                                            "inputs (off: soft masks in training as in the paper)")
    normalize_reward: bool = cfg(True, help="measure the team-reward MSE in units of the team reward's std "
                                            "(so lambda means the same on every task)")

    def __post_init__(self) -> None:
        self.hidden_sizes = tuple(int(h) for h in self.hidden_sizes)
        self.mask_hidden_sizes = tuple(int(h) for h in self.mask_hidden_sizes)
        if self.graph not in GRAPHS:
            raise ValueError(f"graph must be one of {list(GRAPHS)}, got {self.graph!r}.")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {list(ACTIVATIONS)}, got {self.activation!r}.")
        if min(self.n_agents, self.obs_dim, self.act_dim) < 1:
            raise ValueError(f"n_agents, obs_dim and act_dim must be positive, got "
                             f"{self.n_agents}, {self.obs_dim}, {self.act_dim}.")
        if not self.hidden_sizes or min(self.hidden_sizes) < 1 or (self.mask_hidden_sizes and min(self.mask_hidden_sizes) < 1):
            raise ValueError("hidden_sizes needs at least one positive layer size; mask_hidden_sizes sizes must be positive.")
        for name in ("mask_init", "mask_init_own"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ValueError(f"{name} is a sigmoid output and must lie in (0, 1), got {getattr(self, name)}.")
        if not 0.0 <= self.threshold < 1.0:
            raise ValueError(f"threshold must lie in [0, 1), got {self.threshold}.")

    @property
    def state_dim(self) -> int:
        """D_s: the joint observation (all team agents' observations concatenated)."""
        return self.n_agents * self.obs_dim

    @property
    def action_dim(self) -> int:
        """D_a: the joint action."""
        return self.n_agents * self.act_dim
