"""Crash-safe file output: everything is written to a temporary sibling folder, then renamed.

A crash, Ctrl-C or ``kill`` therefore never leaves a half-written dataset or model where a user
would find it: either the old folder (or nothing) is there, or the complete new one. SIGTERM is
turned into an exception while the block runs, so the temporary folder is removed; one left by a
process that could not clean up (SIGKILL, power loss) is removed by the next write to the same path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import threading
import uuid
from pathlib import Path
from typing import Any, Iterator


class OutputExistsError(FileExistsError):
    """The output folder exists and overwriting was not asked for."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep_orphans(final: Path) -> None:
    """Remove temporary siblings of ``final`` whose writing process no longer exists."""
    for tmp in final.parent.glob(f".{final.name}.tmp-*"):
        pid = tmp.name.rsplit(".tmp-", 1)[1].split("-")[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """While the block runs, SIGTERM raises ``SystemExit(143)`` (only where Python can install handlers)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return

    def raise_exit(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, raise_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def atomic_directory(final_path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a fresh temporary folder that becomes ``final_path`` only if the block succeeds.

    The temporary folder lives beside ``final_path`` (same file system, so the rename is atomic) and
    carries the writer's pid, so a later call can tell an orphan from a concurrent write.
    With ``overwrite=False`` an existing ``final_path`` raises :class:`OutputExistsError` before
    any work is done.
    """
    final = Path(final_path).expanduser().resolve()
    if final.exists() and not overwrite:
        raise OutputExistsError(
            f"{final} already exists. Pass --overwrite (or overwrite=True) to replace it, "
            "or choose another output folder."
        )
    final.parent.mkdir(parents=True, exist_ok=True)
    _sweep_orphans(final)
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    with _sigterm_raises():
        try:
            yield tmp
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        old = None
        if final.exists():
            old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(final, old)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write JSON with sorted keys and a trailing newline (stable diffs, stable hashes)."""
    Path(path).write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
