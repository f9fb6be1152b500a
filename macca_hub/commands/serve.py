"""Serve the local root as a read-only Hugging Face Hub endpoint on 127.0.0.1 (the ``olah`` mirror).

Every dataset and model under ``$MACCA_HUB_HOME`` is exported as a git repository (tagged
``v<builder_version>``), and olah serves them offline. In another shell::

    export HF_ENDPOINT=http://127.0.0.1:8090 HF_HUB_OFFLINE=0
    python -c "import datasets; print(datasets.load_dataset('macca/mpe-cn-expert', split='train'))"

Runs until Ctrl-C (or ``--timeout`` seconds), then stops olah and removes its temporary files.
Needs the optional extra: ``pip install 'macca_hub[serve]'``.

Limits of olah's offline mode: only what is under the local root is served (read-only, no
uploads); ``HfApi().dataset_info(repo)`` without a revision answers "not found" (pass
``revision="main"`` or a tag); files stream in small chunks, about 12 MiB/s per file here.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from macca_hub.mirror import MirrorServer

HELP = "serve the local root as a read-only Hub endpoint on 127.0.0.1 (olah mirror)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8090, help="port on 127.0.0.1 (0 picks a free one; default: 8090)")
    parser.add_argument("--root", default=None, help="local root to serve (default: $MACCA_HUB_HOME)")
    parser.add_argument("--mirrors-path", default=None,
                        help="where the git exports go (default: <root>/.mirror; rebuilt from the root each start)")
    parser.add_argument("--timeout", type=float, default=None, help="stop by itself after this many seconds")
    parser.add_argument("--ready-timeout", type=float, default=60.0, help="seconds to wait for olah to answer")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from macca_hub.hub import hub_home
    from macca_hub.mirror import export_local_root, start_server

    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be in 0..65535, got {args.port}.")
    root = Path(args.root) if args.root else hub_home()
    if not root.is_dir():
        raise FileNotFoundError(f"The local root {root} does not exist; build a dataset first "
                                "(`macca-hub build cn --quality random`) or pass --root.")
    mirrors = Path(args.mirrors_path) if args.mirrors_path else root / ".mirror"
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` cleans up like Ctrl-C
    # Explicit, because a process started in the background by a non-interactive shell inherits SIGINT ignored.
    signal.signal(signal.SIGINT, _interrupt)
    repos = export_local_root(root, mirrors)
    mirrors.mkdir(parents=True, exist_ok=True)
    try:
        server = start_server(mirrors, port=args.port, ready_timeout=args.ready_timeout, repos=repos)
    except (RuntimeError, TimeoutError) as err:
        print(f"macca-hub serve: error: {err}\n(Is port {args.port} in use? --port 0 picks a free one.)",
              file=sys.stderr)
        return 1
    try:
        return _serve(server, root, args.timeout)
    finally:
        server.stop()


def _serve(server: "MirrorServer", root: object, timeout: float | None) -> int:
    """Print the endpoint, then wait for Ctrl-C, SIGTERM, the timeout, or olah's exit."""
    from importlib.metadata import version

    print(f"Serving {len(server.repos)} repo(s) from {root} on {server.endpoint} "
          f"(olah {version('olah')}, offline, read-only):")
    for repo in server.repos:
        print(f"  {repo.repo_type:<7} {repo.repo_id}  @ {repo.tag or 'main'} ({repo.commit[:10]})")
    print("Use it from another shell:")
    print(f"export HF_ENDPOINT={server.endpoint} HF_HUB_OFFLINE=0")
    print("Press Ctrl-C to stop.", flush=True)
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while server.process.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                print("Timeout reached; stopping.", flush=True)
                return 0
            time.sleep(0.2)
    except KeyboardInterrupt:
        print("Stopping.", flush=True)
        return 0
    print(f"olah exited with code {server.process.returncode}:\n{server.log_tail()}", flush=True)
    return 1
