"""The ``macca-hub`` command: one verb per sub-command.

Each verb lives in its own module under ``macca_hub.commands`` exposing ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported only when their verb is
used, so ``macca-hub --help`` stays fast and a verb's heavy imports never slow down another.
Adding a verb = one module + one line in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS: dict[str, str] = {
    "quickstart": "macca_hub.commands.quickstart",
    "build": "macca_hub.commands.build",
    "info": "macca_hub.commands.info",
    "train-behaviour": "macca_hub.commands.train_behaviour",
    "train-reward": "macca_hub.commands.train_reward",
    "evaluate-reward": "macca_hub.commands.evaluate_reward",
    "relabel": "macca_hub.commands.relabel",
    "train-policy": "macca_hub.commands.train_policy",
    "push": "macca_hub.commands.push",
    "serve": "macca_hub.commands.serve",
}


def _available() -> dict[str, str]:
    found = {}
    for verb, module in COMMANDS.items():
        if importlib.util.find_spec(module) is not None:
            found[verb] = module
    return found


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="macca-hub",
        description="Causal credit assignment (MACCA) for offline multi-agent RL: build datasets, "
        "train and apply causal reward models, train offline MARL policies, share them.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in _available().items():
        if verb is not None and name != verb:
            # Only the chosen verb's module is imported; the others get a cheap placeholder.
            sub.add_parser(name)
            continue
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verb = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(verb if verb in COMMANDS else None)
    args = parser.parse_args(argv)
    from macca_hub.utils.memory import keep_freed_memory

    keep_freed_memory()  # the command owns its process: large batches reuse heap pages (no page fault per batch)
    try:
        return int(args._run(args) or 0)
    except (ValueError, FileNotFoundError, FileExistsError, KeyError) as err:
        # Bad input: one clear line naming the problem and the fix, no traceback.
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"macca-hub {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
