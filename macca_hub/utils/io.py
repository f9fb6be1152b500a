"""Crash-safe file output: everything is written to a temporary sibling folder, then renamed.

A crash or Ctrl-C therefore never leaves a half-written dataset or model where a user would
find it: either the old folder (or nothing) is there, or the complete new one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Iterator


class OutputExistsError(FileExistsError):
    """The output folder exists and overwriting was not asked for."""


@contextlib.contextmanager
def atomic_directory(final_path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a fresh temporary folder that becomes ``final_path`` only if the block succeeds.

    The temporary folder lives beside ``final_path`` (same file system, so the rename is atomic).
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
    tmp = final.parent / f".{final.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
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
