"""Integration: the local root served by a real olah mirror on 127.0.0.1, used by the plain HF calls.

The calls run in a subprocess because ``huggingface_hub`` and ``datasets`` read ``HF_ENDPOINT``
and ``HF_HUB_OFFLINE`` at import time (this test session runs with ``HF_HUB_OFFLINE=1``).
The subprocess gets an empty ``MACCA_HUB_HOME`` and a fresh HF cache, so every byte it loads
came through the mirror.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch

from macca_hub.hub import local_repo_path
from macca_hub.utils.io import sha256_file
from tiny_models import TinyNet, TinyNetConfig, probe_inputs

pytest.importorskip("olah", reason="the olah mirror is not installed: pip install 'macca_hub[serve]'")

TESTS_DIR = Path(__file__).resolve().parent
TINY_MODEL = "macca/test-tiny-net"
REWARD_MODEL = "macca/cn-test-causal-reward"


def has_reward_model() -> bool:
    import importlib.util

    return importlib.util.find_spec("macca_hub.reward.modeling_causal_reward") is not None


# Runs in the subprocess: only plain HF calls (plus from_pretrained), results printed as JSON.
CLIENT = r"""
import hashlib, json, os, sys
sys.path.insert(0, os.environ["TESTS_DIR"])
import datasets, huggingface_hub, numpy as np
from tiny_models import TinyNet, probe_inputs
TINY_MODEL, REWARD_MODEL = os.environ["TINY_MODEL"], os.environ.get("REWARD_MODEL")

def digest(folder):
    out = {}
    for root, _, files in os.walk(folder):
        for f in files:
            p = os.path.join(root, f)
            out[os.path.relpath(p, folder)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return out

res = {"endpoint": huggingface_hub.constants.ENDPOINT, "offline": huggingface_hub.constants.HF_HUB_OFFLINE}
ds = datasets.load_dataset("macca/mpe-cn-random", split="train")
res["columns"] = ds.column_names
res["team_reward"] = np.asarray(ds.with_format("numpy")["team_reward"], dtype=np.float64).tolist()
res["obs0"] = np.asarray(ds.with_format("numpy")[0]["observations"]).tolist()
hidden = datasets.load_dataset("macca/mpe-cn-random", "individual_rewards", split="train")
res["hidden_rows"] = hidden.num_rows
res["rows_at_tag"] = datasets.load_dataset("macca/mpe-cn-random", revision=os.environ["DATASET_TAG"], split="train").num_rows
res["rows_at_sha"] = datasets.load_dataset("macca/mpe-cn-random", revision=os.environ["DATASET_SHA"], split="train").num_rows
res["dataset_snapshot"] = digest(huggingface_hub.snapshot_download("macca/mpe-cn-random", repo_type="dataset"))
res["model_snapshot"] = digest(huggingface_hub.snapshot_download(TINY_MODEL))
inputs = probe_inputs()
res["tiny_out"] = TinyNet.from_pretrained(TINY_MODEL).eval()(inputs["x"]).detach().numpy().tolist()
try:
    huggingface_hub.snapshot_download("macca/no-such-dataset", repo_type="dataset")
    res["missing"] = "found?!"
except Exception as err:
    res["missing"] = type(err).__name__
if REWARD_MODEL:
    from macca_hub.reward.modeling_causal_reward import CausalRewardModel
    model = CausalRewardModel.from_pretrained(REWARD_MODEL)
    res["reward_out"] = model.rewards(inputs["obs"], inputs["act"]).detach().numpy().tolist()
print("RESULT " + json.dumps(res))
"""


@pytest.fixture(scope="module")
def served(tiny_cn: Path, hub_root: Path, tmp_path_factory: pytest.TempPathFactory):
    """The local root (tiny_cn + a tiny net + a causal reward model) served by olah on 127.0.0.1."""
    from macca_hub.mirror import serve_local_root

    torch.manual_seed(0)
    TinyNet(TinyNetConfig()).save_pretrained(local_repo_path(TINY_MODEL, "model"))
    if has_reward_model():
        from macca_hub.reward import CausalRewardConfig, CausalRewardModel

        CausalRewardModel(CausalRewardConfig(hidden_sizes=(8,), mask_hidden_sizes=(8,))).save_pretrained(
            local_repo_path(REWARD_MODEL, "model"))
    with serve_local_root(hub_root, mirrors_path=tmp_path_factory.mktemp("mirrors"), ready_timeout=90) as server:
        yield server


@pytest.fixture(scope="module")
def client_result(served, tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("client")
    dataset = next(r for r in served.repos if r.repo_id == "macca/mpe-cn-random")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE"))}
    env.update({
        "HF_ENDPOINT": served.endpoint, "HF_HUB_OFFLINE": "0", "HF_DATASETS_OFFLINE": "0",
        "HF_HOME": str(tmp / "hf_home"), "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "MACCA_HUB_HOME": str(tmp / "empty_root"), "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
        "TESTS_DIR": str(TESTS_DIR), "DATASET_TAG": dataset.tag, "DATASET_SHA": dataset.commit,
        "TINY_MODEL": TINY_MODEL,
    })
    if has_reward_model():
        env["REWARD_MODEL"] = REWARD_MODEL
    proc = subprocess.run([sys.executable, "-c", CLIENT], env=env, capture_output=True, text=True, timeout=240)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"client failed:\n{proc.stderr[-4000:]}\n--- olah log ---\n{served.log_tail()}"
    return json.loads(lines[-1][len("RESULT "):])


def _tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def test_load_dataset_through_mirror(client_result: dict, served, tiny_cn: Path) -> None:
    import numpy as np
    import pyarrow.parquet as pq

    from macca_hub.data.format import DEFAULT_COLUMNS

    assert client_result["endpoint"] == served.endpoint and client_result["offline"] is False
    assert served.endpoint.startswith("http://127.0.0.1:")
    table = pq.read_table(sorted((tiny_cn / "data").glob("*.parquet")))
    assert client_result["columns"] == list(DEFAULT_COLUMNS)
    np.testing.assert_array_equal(np.asarray(client_result["team_reward"], np.float32),
                                  table.column("team_reward").to_numpy())
    assert len(client_result["team_reward"]) == 1000
    np.testing.assert_array_equal(np.asarray(client_result["obs0"], np.float32),
                                  np.asarray(table.column("observations")[0].as_py(), np.float32))
    assert client_result["hidden_rows"] == 1000
    assert client_result["rows_at_tag"] == 1000 and client_result["rows_at_sha"] == 1000
    assert client_result["missing"] == "RepositoryNotFoundError"


def test_snapshot_download_is_byte_identical(client_result: dict, tiny_cn: Path, hub_root: Path) -> None:
    assert client_result["dataset_snapshot"] == _tree(tiny_cn)
    assert client_result["model_snapshot"] == _tree(local_repo_path(TINY_MODEL, "model"))
    assert set(client_result["model_snapshot"]) == {"README.md", "config.json", "model.safetensors"}


def test_from_pretrained_through_mirror(client_result: dict) -> None:
    local = TinyNet.from_pretrained(local_repo_path(TINY_MODEL, "model"))
    expected = local(probe_inputs()["x"]).detach().numpy().tolist()
    assert client_result["tiny_out"] == expected  # bit-identical


@pytest.mark.skipif(not has_reward_model(), reason="macca_hub.reward is not in this checkout yet")
def test_causal_reward_model_from_pretrained_through_mirror(client_result: dict) -> None:
    from macca_hub.reward.modeling_causal_reward import CausalRewardModel

    local = CausalRewardModel.from_pretrained(local_repo_path(REWARD_MODEL, "model"))
    inputs = probe_inputs()
    assert client_result["reward_out"] == local.rewards(inputs["obs"], inputs["act"]).detach().numpy().tolist()


def test_mirror_is_read_only(served) -> None:
    req = urllib.request.Request(f"{served.endpoint}/api/datasets/macca/mpe-cn-random/commit/main", data=b"{}",
                                 method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.HTTPError) as err:
        opener.open(req, timeout=10)
    assert err.value.code in (404, 405)


@pytest.mark.slow
def test_serve_command_prints_endpoint_and_stops_on_ctrl_c(tiny_cn: Path, hub_root: Path, tmp_path: Path) -> None:
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    cmd = [sys.executable, "-m", "macca_hub.cli", "serve", "--port", "0", "--root", str(hub_root),
           "--mirrors-path", str(tmp_path / "mirrors"), "--timeout", "120"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("export HF_ENDPOINT="):
                break
        export = next((line for line in lines if line.startswith("export HF_ENDPOINT=")), None)
        assert export is not None, "".join(lines)
        endpoint = export.split()[1].split("=", 1)[1]
        assert endpoint.startswith("http://127.0.0.1:")
        assert any("dataset macca/mpe-cn-random  @ v1.0.0" in line for line in lines)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{endpoint}/datasets/macca/mpe-cn-random/resolve/v1.0.0/meta/info.json", timeout=30) as r:
            assert r.read() == (tiny_cn / "meta" / "info.json").read_bytes()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    port = int(endpoint.rsplit(":", 1)[1])
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "olah still listening after Ctrl-C"


def test_export_is_incremental_and_mirrors_the_folder(tmp_path: Path) -> None:
    from macca_hub.mirror import _git, export_local_root

    root, mirrors = tmp_path / "root", tmp_path / "mirrors"
    folder = root / "datasets" / "org" / "ds"
    (folder / "meta").mkdir(parents=True)
    (folder / "meta" / "info.json").write_text(json.dumps({"builder_version": "2.1.0"}))
    (folder / "a.txt").write_text("one")
    (folder / ".hidden").write_text("never exported")
    (root / "datasets" / "org" / ".ds.tmp-1234").mkdir()  # an unfinished atomic write
    (first,) = export_local_root(root, mirrors)
    assert (first.repo_id, first.tag, first.git_dir) == ("org/ds", "v2.1.0", mirrors / "datasets" / "org" / "ds")
    (again,) = export_local_root(root, mirrors)
    assert again.commit == first.commit  # unchanged folder: no new commit
    (folder / "a.txt").unlink()
    (folder / "b.txt").write_text("two")
    (changed,) = export_local_root(root, mirrors)
    assert changed.commit != first.commit
    assert _git(changed.git_dir, "rev-parse", f"{changed.commit}^") == first.commit
    assert _git(changed.git_dir, "ls-tree", "-r", "--name-only", "v2.1.0").split() == ["b.txt", "meta/info.json"]
    assert _git(changed.git_dir, "show", "main:b.txt") == "two"
    shutil.rmtree(folder)
    assert export_local_root(root, mirrors) == [] and not changed.git_dir.exists()  # pruned with its folder
