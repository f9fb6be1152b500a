"""Serve the local root as a read-only, Hub-compatible endpoint on loopback, with the ``olah`` mirror.

``olah`` (a maintained, self-hosted Hugging Face mirror) has an offline mode that serves local
repositories found under ``mirrors-path`` as ``<mirrors>/datasets/<org>/<name>`` and
``<mirrors>/models/<org>/<name>``. Each must be a git repository and only committed content is
served, so :func:`export_local_root` turns every folder of the local root into a bare git
repository (no copy of a work tree: ``git add`` reads the folder directly), committed on ``main``
and tagged with the folder's revision tag (``v<builder_version>``). :func:`start_server` then runs
olah as a subprocess on 127.0.0.1 with a generated config; with ``HF_ENDPOINT`` pointing at it the
plain ``datasets.load_dataset``, ``snapshot_download`` and ``from_pretrained`` calls work verbatim.

Exports are incremental: an unchanged folder gives the same tree and no new commit. olah reads
a whole file into memory per request, which is why dataset shards are kept modest by the builder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from macca_hub.hub import hub_home, validate_repo_id

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
REPO_TYPES = ("dataset", "model")
BRANCH = "main"
_GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "macca_hub mirror", "GIT_AUTHOR_EMAIL": "mirror@macca-hub.invalid",
    "GIT_COMMITTER_NAME": "macca_hub mirror", "GIT_COMMITTER_EMAIL": "mirror@macca-hub.invalid",
}


@dataclass(frozen=True)
class ExportedRepo:
    """One local folder exported as a bare git repository that olah can serve."""

    repo_type: str
    repo_id: str
    source: Path
    git_dir: Path
    commit: str
    tag: str | None


def default_mirrors_path() -> Path:
    """Where exports live by default: a hidden folder of the local root (rebuilt from it at will)."""
    return hub_home() / ".mirror"


def _git_binary() -> str:
    git = shutil.which("git")
    if git is None:
        raise FileNotFoundError("`git` is not installed; the olah mirror serves git repositories. "
                                "Install git (e.g. `apt-get install git`) and retry.")
    return git


def _git(git_dir: Path, *args: str, work_tree: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run git on ``git_dir`` isolated from the user's git config (no filters, hooks or LFS)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    full_env.update({"GIT_DIR": str(git_dir), "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
                     "GIT_TERMINAL_PROMPT": "0", **_GIT_IDENTITY, **(env or {})})
    if work_tree is not None:
        full_env["GIT_WORK_TREE"] = str(work_tree)
    cmd = [_git_binary(), "-c", "core.autocrlf=false", "-c", "core.compression=1", *args]
    res = subprocess.run(cmd, env=full_env, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"`git {' '.join(args)}` failed in {git_dir}: {res.stderr.strip() or res.stdout.strip()}")
    return res.stdout.strip()


def export_repo(folder: str | os.PathLike, repo_type: str, repo_id: str, mirrors_path: str | os.PathLike | None = None,
                tag: str | None = None) -> ExportedRepo:
    """Commit ``folder`` into the bare repo ``<mirrors>/<repo_type>s/<repo_id>`` on ``main`` and tag it.

    Hidden files (``.*``) are left out. The commit is only made when the content changed; the
    tag (default: :func:`macca_hub.sharing.revision_tag`) is moved to the current commit, since
    the mirror reflects the local root as it is now.
    """
    from macca_hub.sharing import revision_tag

    if repo_type not in REPO_TYPES:
        raise ValueError(f"repo_type must be one of {REPO_TYPES}, got {repo_type!r}.")
    validate_repo_id(repo_id)
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise FileNotFoundError(f"No folder at {folder} to export.")
    mirrors = Path(mirrors_path) if mirrors_path is not None else default_mirrors_path()
    git_dir = mirrors / f"{repo_type}s" / repo_id
    if not (git_dir / "HEAD").is_file():
        git_dir.mkdir(parents=True, exist_ok=True)
        _git(git_dir, "init", "--quiet", "--bare", f"--initial-branch={BRANCH}")
    (git_dir / "info").mkdir(exist_ok=True)
    (git_dir / "info" / "exclude").write_text(".*\n__pycache__/\n")
    _git(git_dir, "add", "--all", "--", ".", work_tree=folder)
    tree = _git(git_dir, "write-tree", work_tree=folder)
    parent = None
    with contextlib.suppress(RuntimeError):
        parent = _git(git_dir, "rev-parse", "--verify", "--quiet", f"refs/heads/{BRANCH}")
    commit = parent
    if parent is None or _git(git_dir, "rev-parse", f"{parent}^{{tree}}") != tree:
        args = ["commit-tree", tree, "-m", f"Export {repo_id} from the macca_hub local root"]
        if parent is not None:
            args += ["-p", parent]
        commit = _git(git_dir, *args)
        _git(git_dir, "update-ref", f"refs/heads/{BRANCH}", commit)
    assert commit is not None
    tag = tag if tag is not None else revision_tag(folder, repo_type)
    if tag:
        _git(git_dir, "tag", "--force", tag, commit)
    return ExportedRepo(repo_type, repo_id, folder, git_dir, commit, tag)


def local_repos(root: str | os.PathLike | None = None) -> list[tuple[str, str, Path]]:
    """``(repo_type, repo_id, folder)`` for every ``<root>/{datasets,models}/<org>/<name>`` folder."""
    root = Path(root) if root is not None else hub_home()
    found = []
    for repo_type in REPO_TYPES:
        base = root / f"{repo_type}s"
        if not base.is_dir():
            continue
        for org in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for repo in sorted(p for p in org.iterdir() if p.is_dir() and not p.name.startswith(".")):
                found.append((repo_type, f"{org.name}/{repo.name}", repo))
    return found


def export_local_root(root: str | os.PathLike | None = None, mirrors_path: str | os.PathLike | None = None,
                      prune: bool = True) -> list[ExportedRepo]:
    """Export every dataset and model of the local root; with ``prune``, drop exports whose folder is gone."""
    root = Path(root) if root is not None else hub_home()
    mirrors = Path(mirrors_path) if mirrors_path is not None else root / ".mirror"
    exported = [export_repo(folder, rtype, rid, mirrors) for rtype, rid, folder in local_repos(root)]
    if prune:
        keep = {e.git_dir.resolve() for e in exported}
        for repo_type in REPO_TYPES:
            for git_dir in sorted((mirrors / f"{repo_type}s").glob("*/*")):
                if git_dir.resolve() not in keep and (git_dir / "HEAD").is_file():
                    shutil.rmtree(git_dir)
    return exported


def olah_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("olah") is not None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free right now on ``host`` (the OS picks it)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def write_olah_config(path: str | os.PathLike, mirrors_path: str | os.PathLike, repos_path: str | os.PathLike,
                      host: str, port: int) -> Path:
    """An olah TOML config: offline mode, loopback host, our mirrors path, a private cache folder."""
    import toml  # an olah dependency

    config = {
        "basic": {
            "host": host, "port": int(port), "repos-path": str(repos_path), "mirrors-path": [str(mirrors_path)],
            "mirror-scheme": "http", "mirror-netloc": f"{host}:{port}", "mirror-lfs-netloc": f"{host}:{port}",
        },
        "accessibility": {"offline": True},
    }
    path = Path(path)
    path.write_text(toml.dumps(config))
    return path


@dataclass
class MirrorServer:
    """A running olah process; ``stop()`` (or leaving the ``with`` block) ends it and its files."""

    process: subprocess.Popen
    host: str
    port: int
    workdir: Path
    repos: list[ExportedRepo] = field(default_factory=list)
    _owns_workdir: bool = True

    @property
    def endpoint(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.workdir / "olah.log"

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate olah (SIGTERM, then SIGKILL after ``timeout``) and remove its temporary files."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "MirrorServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _wait_ready(server: MirrorServer, timeout: float) -> None:
    """Poll until olah answers any HTTP request (a 404 for an unknown path counts), or fail."""
    deadline = time.monotonic() + timeout
    probe = f"{server.endpoint}/api/datasets/macca-hub-probe/none/revision/main"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"olah exited with code {server.process.returncode} before serving:\n{server.log_tail()}")
        try:
            with opener.open(probe, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(0.2)
    raise TimeoutError(f"olah did not answer on {server.endpoint} within {timeout:.0f} s:\n{server.log_tail()}")


def start_server(mirrors_path: str | os.PathLike | None = None, host: str = "127.0.0.1", port: int = 0,
                 workdir: str | os.PathLike | None = None, ready_timeout: float = 60.0,
                 repos: list[ExportedRepo] | None = None) -> MirrorServer:
    """Start olah in offline mode on loopback serving ``mirrors_path``; returns once it answers.

    ``port=0`` picks a free port. The config, olah's cache and its log live in ``workdir``
    (a fresh temporary folder by default, removed by ``stop()``).
    """
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"The mirror serves loopback only; host must be one of {LOOPBACK_HOSTS}, got {host!r}.")
    if not olah_available():
        raise FileNotFoundError("The `olah` mirror is not installed. Install it with `pip install 'macca_hub[serve]'` "
                                "(or `pip install olah==0.5.4`).")
    mirrors = Path(mirrors_path) if mirrors_path is not None else default_mirrors_path()
    if not mirrors.is_dir():
        raise FileNotFoundError(f"No mirror exports at {mirrors}; run `export_local_root()` (or `macca-hub serve`) first.")
    owns = workdir is None
    work = Path(tempfile.mkdtemp(prefix="macca-olah-")) if workdir is None else Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    port = int(port) or free_port(host)
    config = write_olah_config(work / "olah.toml", mirrors.resolve(), work / "cache", host, port)
    log = open(work / "olah.log", "wb")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for key in ("HF_ENDPOINT", "HF_HUB_OFFLINE", "OLAH_CONFIG"):
        env.pop(key, None)
    cmd = [sys.executable, "-m", "olah.server", "--config", str(config), "--log-path", str(work / "logs")]
    try:
        process = subprocess.Popen(cmd, cwd=work, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    finally:
        log.close()
    server = MirrorServer(process, host, port, work, list(repos or []), owns)
    try:
        _wait_ready(server, ready_timeout)
    except BaseException:  # not ready, or Ctrl-C while waiting: never leave olah running
        server.stop()
        raise
    return server


@contextlib.contextmanager
def serve_local_root(root: str | os.PathLike | None = None, port: int = 0, mirrors_path: str | os.PathLike | None = None,
                     ready_timeout: float = 60.0) -> Iterator[MirrorServer]:
    """Export the local root and serve it on 127.0.0.1 for the duration of the ``with`` block."""
    root = Path(root) if root is not None else hub_home()
    mirrors = Path(mirrors_path) if mirrors_path is not None else root / ".mirror"
    repos = export_local_root(root, mirrors)
    mirrors.mkdir(parents=True, exist_ok=True)
    server = start_server(mirrors, port=port, ready_timeout=ready_timeout, repos=repos)
    try:
        yield server
    finally:
        server.stop()
