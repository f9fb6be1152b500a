"""Crash-safe writes: SIGTERM and orphaned temporary folders never leave partial output behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from macca_hub.utils.io import atomic_directory


def _wait_for(predicate, timeout: float = 60.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_orphaned_temp_folder_is_swept_but_a_live_writer_is_not(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = tmp_path / f".out.tmp-{int(dead.stdout)}-deadbeef"
    live = tmp_path / f".out.tmp-{os.getpid()}-cafebabe"  # this very process: a concurrent write in progress
    orphan.mkdir()
    live.mkdir()
    with atomic_directory(tmp_path / "out") as tmp:
        (tmp / "x.txt").write_text("done")
    assert (tmp_path / "out" / "x.txt").read_text() == "done"
    assert not orphan.exists() and live.exists()


def test_sigterm_during_a_write_removes_the_temp_folder(tmp_path: Path) -> None:
    code = ("import sys, time; from macca_hub.utils.io import atomic_directory\n"
            "with atomic_directory(sys.argv[1]) as t:\n"
            "    (t / 'part.txt').write_text('half'); print('writing', flush=True); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "out")], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 143
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_killed_build_leaves_no_folder_and_no_workers(tmp_path: Path) -> None:
    """``kill`` of a 2-worker build: no dataset, no temporary folder, no orphaned collector process."""
    out = tmp_path / "cn"
    proc = subprocess.Popen([sys.executable, "-m", "macca_hub.cli", "build", "cn", "--num-transitions", "200000",
                             "--output", str(out), "--workers", "2", "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    parent = psutil.Process(proc.pid)
    assert _wait_for(lambda: len(parent.children(recursive=True)) >= 2), "the collector workers never started"
    workers = parent.children(recursive=True)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143, proc.stderr.read()
    assert _wait_for(lambda: not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers), 30)
    assert list(tmp_path.iterdir()) == []
