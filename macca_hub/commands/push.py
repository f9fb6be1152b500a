"""Upload a dataset or model folder to the Hugging Face Hub (or the endpoint in ``HF_ENDPOINT``).

The card is checked first (YAML metadata, required fields, links between a relabeled dataset,
its reward model and its source dataset); the upload is one commit tagged ``v<builder_version>``.
Authenticate with ``hf auth login`` or the ``HF_TOKEN`` variable: the token is never printed.

    macca-hub push macca/mpe-cn-expert --repo-id my-org/mpe-cn-expert
    macca-hub push ./runs/cn-reward --repo-id my-org/cn-expert-causal-reward
    macca-hub push macca/mpe-cn-expert --repo-id my-org/mpe-cn-expert-heldout --without-individual-rewards
    macca-hub push macca/mpe-cn-expert --repo-id my-org/mpe-cn-expert --dry-run   # list files, no network
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "upload a dataset or model folder to the Hub (card checked first, tagged per builder version)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", help="dataset or model folder, or a repo id under the local root "
                                       "(e.g. macca/mpe-cn-expert)")
    parser.add_argument("--repo-id", required=True, help="destination repo on the Hub, 'org/name'")
    parser.add_argument("--repo-type", choices=["dataset", "model"], default=None,
                        help="what the folder is (default: detected: meta/info.json -> dataset, config.json -> model)")
    parser.add_argument("--without-individual-rewards", action="store_true",
                        help="publish the team-reward config only (a held-out benchmark): the hidden "
                             "individual_rewards config is neither uploaded nor named in the card")
    parser.add_argument("--revision", default=None, help="branch to commit to (default: main)")
    parser.add_argument("--private", action="store_true", help="create the repo as private")
    parser.add_argument("--commit-message", default=None, help="commit message (default: one naming the version tag)")
    parser.add_argument("--no-tag", action="store_true", help="do not tag the commit v<builder_version>")
    parser.add_argument("--dry-run", action="store_true",
                        help="check the card and print the files that would be committed; send nothing")


def resolve_folder(name: str) -> tuple[Path, str | None]:
    """A folder path, or a repo id under the local root (dataset first, then model)."""
    from macca_hub.hub import REPO_ID_PATTERN, local_repo_path

    path = Path(name).expanduser()
    if path.is_dir():
        return path, None
    if REPO_ID_PATTERN.match(name):
        for repo_type in ("dataset", "model"):
            local = local_repo_path(name, repo_type)
            if local.is_dir():
                return local, repo_type
    raise FileNotFoundError(f"No folder {name!r}, and no dataset or model {name!r} under the local root; "
                            "give a folder path (or build/train it first).")


def run(args: argparse.Namespace) -> int:
    import logging

    from macca_hub.sharing import check_repo_id, detect_repo_type, planned_operations, push_folder, revision_tag

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    check_repo_id(args.repo_id)
    folder, found_type = resolve_folder(args.folder)
    repo_type = args.repo_type or found_type or detect_repo_type(folder)
    if args.dry_run:
        ops = planned_operations(folder, repo_type, without_individual_rewards=args.without_individual_rewards)
        tag = None if args.no_tag else revision_tag(folder, repo_type)
        print(f"would commit {len(ops)} file(s) from {folder} to {repo_type} {args.repo_id}"
              f"{f' (tag {tag})' if tag else ''}:")
        for op in ops:
            print(f"  {op.path_in_repo}  ({op.upload_info.size} bytes)")
        return 0
    try:
        url = push_folder(folder, args.repo_id, repo_type=repo_type, private=args.private,
                          commit_message=args.commit_message, revision=args.revision,
                          without_individual_rewards=args.without_individual_rewards, tag=not args.no_tag)
    except Exception as err:
        if not _is_transport_error(err):
            raise
        print(f"macca-hub push: error: the Hub refused or could not be reached ({type(err).__name__}: {err}). "
              "Check the network, HF_HUB_OFFLINE (must be 0), HF_ENDPOINT, and your login "
              "(`hf auth login` or HF_TOKEN) with write access to the repo.", file=sys.stderr)
        return 1
    print(url)
    return 0


def _is_transport_error(err: Exception) -> bool:
    """Errors from huggingface_hub or its HTTP client (offline mode, refused, 401/403...), not our bugs."""
    return any(cls.__module__.split(".")[0] in ("huggingface_hub", "httpx", "httpx2", "requests", "urllib3")
               for cls in type(err).__mro__)
