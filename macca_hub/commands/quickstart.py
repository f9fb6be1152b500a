"""The main job on an embedded default, offline, in minutes on 2 CPU cores.

Builds a Cooperative Navigation dataset in the live mpe2 task from the shipped behaviour policy,
trains MACCA's causal reward model, relabels the data with ``ds.map(model.relabel, batched=True)``,
trains MACCA-OMAR on the per-agent rewards and OMAR on the team reward, evaluates both in the live
task and prints the credit-assignment fidelity and normalized scores side by side. Everything is
written under ``--workdir``; the flags scale every stage up.
"""

from __future__ import annotations

from macca_hub.algos.pipeline import add_arguments, run

HELP = "run the whole pipeline on an embedded default (build, causal reward model, relabel, MACCA-OMAR vs OMAR)"

__all__ = ["HELP", "add_arguments", "run"]
