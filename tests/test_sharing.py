"""Publishing without network: the exact committed file sets, card checks, repo ids, and what push sends.

``push_folder`` is run for real against ``HfApi`` methods replaced by recorders, so the test sees
the operations, tag and repo settings that would reach the Hub.
"""

from __future__ import annotations

import inspect
import io
import json
import logging
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from macca_hub.sharing import CardError, planned_operations, push_folder, revision_tag, validate_card
from macca_hub.utils.io import read_json, sha256_file, write_json

SECRET = "hf_testTOKEN_never_printed_0123456789"


@pytest.fixture()
def cn_copy(tiny_cn: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny cn dataset (tests edit it), plus stray files that must not be uploaded."""
    folder = tmp_path / "mpe-cn-random"
    shutil.copytree(tiny_cn, folder)
    (folder / "notes.txt").write_text("scratch")
    (folder / ".cache").mkdir()
    (folder / ".cache" / "x.lock").write_text("")
    return folder


@pytest.fixture()
def tiny_model(tmp_path: Path) -> Path:
    from tiny_models import TinyNet, TinyNetConfig

    folder = TinyNet(TinyNetConfig()).save_pretrained(tmp_path / "tiny-net")
    (folder / "optimizer.pt").write_bytes(b"pickle would go here")  # never uploaded
    (folder / "checkpoints" / "step_1").mkdir(parents=True)  # nor are training checkpoints
    (folder / "checkpoints" / "step_1" / "model.safetensors").write_bytes(b"")
    return folder


def _content(op) -> bytes:
    obj = op.path_or_fileobj
    return obj.getvalue() if isinstance(obj, io.BytesIO) else Path(obj).read_bytes()


def _card_meta(text: str) -> dict:
    return yaml.safe_load(text.split("---")[1])


def expected_dataset_files(folder: Path, hidden: bool = True) -> set[str]:
    """The Hub layout of a dataset, listed independently of the code under test."""
    files = {"README.md", "meta/info.json", "meta/stats.json", "meta/returns_histogram.png", "meta/episode_returns.npy"}
    files |= {f"data/{p.name}" for p in (folder / "data").glob("*.parquet")}
    if hidden:
        files |= {f"individual_rewards/{p.name}" for p in (folder / "individual_rewards").glob("*.parquet")}
    return files


def test_dataset_file_set_is_the_hub_layout(cn_copy: Path) -> None:
    ops = planned_operations(cn_copy, "dataset")
    paths = [op.path_in_repo for op in ops]
    assert paths == sorted(paths)
    assert set(paths) == expected_dataset_files(cn_copy)
    assert {"data/train-00000-of-00001.parquet", "individual_rewards/train-00000-of-00001.parquet"} <= set(paths)
    for op in ops:  # every upload is the file on disk, unchanged
        assert op.upload_info.sha256.hex() == sha256_file(cn_copy / op.path_in_repo)


def test_heldout_file_set_drops_the_hidden_config(cn_copy: Path, tmp_path: Path) -> None:
    import datasets

    ops = {op.path_in_repo: op for op in planned_operations(cn_copy, "dataset", without_individual_rewards=True)}
    assert set(ops) == expected_dataset_files(cn_copy, hidden=False)
    assert not any("individual_rewards" in p for p in ops)
    card = _content(ops["README.md"]).decode()
    meta = _card_meta(card)
    assert [c["config_name"] for c in meta["configs"]] == ["default"]
    assert [c["config_name"] for c in meta["dataset_info"]] == ["default"]
    assert "Held-out benchmark" in card
    info = json.loads(_content(ops["meta/info.json"]))
    assert set(info["configs"]) == {"default"} and info["individual_rewards_published"] is False
    stats = json.loads(_content(ops["meta/stats.json"]))
    assert "agent_episode_return" not in stats and "episode_return" in stats
    assert ops["data/train-00000-of-00001.parquet"].upload_info.sha256.hex() == sha256_file(
        cn_copy / "data/train-00000-of-00001.parquet")
    # What a user downloads from the held-out repo: the default config loads, the hidden one does not exist.
    published = tmp_path / "published"
    for path, op in ops.items():
        (published / path).parent.mkdir(parents=True, exist_ok=True)
        (published / path).write_bytes(_content(op))
    validate_card(published, "dataset")
    assert datasets.load_dataset(str(published), split="train").num_rows == 1000
    with pytest.raises(ValueError, match="individual_rewards"):
        datasets.load_dataset(str(published), "individual_rewards", split="train")


def test_model_file_set(tiny_model: Path) -> None:
    ops = planned_operations(tiny_model, "model")
    assert [op.path_in_repo for op in ops] == ["README.md", "config.json", "model.safetensors"]
    assert revision_tag(tiny_model, "model").startswith("v")
    with pytest.raises(ValueError, match="datasets only"):
        planned_operations(tiny_model, "model", without_individual_rewards=True)


@pytest.mark.parametrize("bad", ["no-slash", "org/na me", "a/b/c", "org--x/name", "org/name.git", "../etc", "", "org/"])
def test_bad_repo_id_is_a_clear_error(cn_copy: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="repo id"):
        push_folder(cn_copy, bad, repo_type="dataset", token=SECRET)


def test_bad_repo_id_in_cli(cn_copy: Path, capsys: pytest.CaptureFixture) -> None:
    from macca_hub.cli import main

    assert main(["push", str(cn_copy), "--repo-id", "not a repo"]) == 2
    err = capsys.readouterr().err
    assert "macca-hub push: error: Invalid repo id 'not a repo'" in err and "org/name" in err


def _rewrite_card(folder: Path, drop: str | None = None, **updates) -> None:
    text = (folder / "README.md").read_text()
    _, yaml_block, body = text.split("---", 2)
    meta = yaml.safe_load(yaml_block)
    if drop:
        meta.pop(drop)
    meta.update(updates)
    (folder / "README.md").write_text(f"---\n{yaml.safe_dump(meta, sort_keys=False)}---{body}")


@pytest.mark.parametrize("field", ["license", "pretty_name", "tags", "configs", "task_categories"])
def test_missing_dataset_card_field(cn_copy: Path, field: str) -> None:
    _rewrite_card(cn_copy, drop=field)
    with pytest.raises(CardError, match=f"missing field '{field}'"):
        planned_operations(cn_copy, "dataset")


def test_card_problems_are_named(cn_copy: Path, tiny_model: Path) -> None:
    readme = (cn_copy / "README.md").read_text()
    (cn_copy / "README.md").write_text(readme.replace("license: apache-2.0", "license: [unclosed"))
    with pytest.raises(CardError, match="YAML metadata .* is invalid"):
        validate_card(cn_copy, "dataset")
    (cn_copy / "README.md").unlink()
    with pytest.raises(CardError, match="README.md is missing"):
        planned_operations(cn_copy, "dataset")
    (cn_copy / "README.md").write_text(readme)
    for shard in (cn_copy / "individual_rewards").glob("*.parquet"):
        shard.unlink()
    with pytest.raises(CardError, match="no file in the folder matches 'individual_rewards/train-\\*.parquet'"):
        validate_card(cn_copy, "dataset")
    _rewrite_card(tiny_model, drop="tags")
    with pytest.raises(CardError, match="missing field 'tags'"):
        planned_operations(tiny_model, "model")
    (tiny_model / "model.safetensors").unlink()
    with pytest.raises(CardError, match="no \\*.safetensors weights"):
        validate_card(tiny_model, "model")


def test_links_between_relabeled_dataset_reward_model_and_source(cn_copy: Path, tiny_model: Path) -> None:
    info = read_json(cn_copy / "meta" / "info.json")
    info.update(relabeled_from="macca/mpe-cn-expert", reward_model={"model_id": "macca/cn-expert-causal-reward"})
    write_json(cn_copy / "meta" / "info.json", info)
    with pytest.raises(CardError) as err:
        validate_card(cn_copy, "dataset")
    assert "source dataset 'macca/mpe-cn-expert'" in str(err.value)
    assert "reward model 'macca/cn-expert-causal-reward'" in str(err.value)
    _rewrite_card(cn_copy, source_datasets=["macca/mpe-cn-expert"])
    (cn_copy / "README.md").write_text((cn_copy / "README.md").read_text()
                                       + "\nRelabeled by [macca/cn-expert-causal-reward](https://huggingface.co/macca/cn-expert-causal-reward).\n")
    validate_card(cn_copy, "dataset")

    write_json(tiny_model / "training_info.json", {"dataset": {"repo_id": "macca/mpe-cn-expert"}})
    with pytest.raises(CardError, match="training_info.json names dataset 'macca/mpe-cn-expert'"):
        validate_card(tiny_model, "model")
    _rewrite_card(tiny_model, datasets=["macca/mpe-cn-expert"])
    assert "training_info.json" in [op.path_in_repo for op in planned_operations(tiny_model, "model")]


class RecordingApi:
    """Stands in for the Hub: records every call ``push_folder`` makes."""

    def __init__(self, remote: list[str]) -> None:
        self.calls: list[tuple[str, tuple, dict]] = []
        self.remote = remote

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import huggingface_hub

        def record(name, result=None):
            real = inspect.signature(getattr(huggingface_hub.HfApi, name))

            def method(api, *args, **kwargs):
                real.bind(api, *args, **kwargs)  # a call the real HfApi would reject fails here too
                self.calls.append((name, args, kwargs))
                self.tokens.append(api.token)
                return result() if callable(result) else result
            return method

        self.tokens: list[str | None] = []
        commit = SimpleNamespace(oid="c0ffee" * 6 + "c0ff", commit_url="https://hub.example/org/x/commit/c0ffee")
        for name, result in {"create_repo": None, "create_branch": None, "create_tag": None,
                             "list_repo_files": lambda: list(self.remote), "create_commit": commit}.items():
            monkeypatch.setattr(huggingface_hub.HfApi, name, record(name, result))

    def call(self, name: str) -> tuple[tuple, dict]:
        found = [(a, k) for n, a, k in self.calls if n == name]
        assert len(found) == 1, self.calls
        return found[0]


def test_push_folder_commits_exactly_the_planned_files(cn_copy: Path, monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture,
                                                      capsys: pytest.CaptureFixture) -> None:
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    api = RecordingApi(remote=[".gitattributes", "paper.pdf", "data/train-00000-of-00002.parquet",
                               "individual_rewards/train-00000-of-00001.parquet", "README.md"])
    api.install(monkeypatch)
    caplog.set_level(logging.DEBUG)
    url = push_folder(cn_copy, "my-org/mpe-cn-heldout", repo_type="dataset", token=SECRET, private=True,
                      without_individual_rewards=True)
    assert url == "https://hub.example/org/x/commit/c0ffee"
    args, kwargs = api.call("create_repo")
    assert args == ("my-org/mpe-cn-heldout",) and kwargs["repo_type"] == "dataset" and kwargs["private"] is True
    args, kwargs = api.call("create_commit")
    adds = [op for op in kwargs["operations"] if isinstance(op, CommitOperationAdd)]
    deletes = {op.path_in_repo for op in kwargs["operations"] if isinstance(op, CommitOperationDelete)}
    assert {op.path_in_repo for op in adds} == expected_dataset_files(cn_copy, hidden=False)
    # stale shard and the previously published hidden config go; foreign files and .gitattributes stay
    assert deletes == {"data/train-00000-of-00002.parquet", "individual_rewards/train-00000-of-00001.parquet"}
    _, kwargs = api.call("create_tag")
    assert kwargs["tag"] == "v1.0.0" and kwargs["revision"] == "c0ffee" * 6 + "c0ff"
    assert set(api.tokens) == {SECRET}  # the token reaches HfApi ...
    out = capsys.readouterr()
    assert SECRET not in caplog.text + out.out + out.err  # ... and nothing else


def test_push_to_hub_of_a_model(tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tiny_models import TinyNet

    api = RecordingApi(remote=[])
    api.install(monkeypatch)
    model = TinyNet.from_pretrained(tiny_model)
    model.push_to_hub("my-org/tiny-net", token=SECRET, revision="dev")
    _, kwargs = api.call("create_branch")
    assert kwargs["branch"] == "dev"
    _, kwargs = api.call("create_commit")
    assert sorted(op.path_in_repo for op in kwargs["operations"]) == ["README.md", "config.json", "model.safetensors"]
    assert kwargs["revision"] == "dev" and kwargs["repo_type"] == "model"
    assert api.call("create_tag")[1]["tag"] == revision_tag(tiny_model, "model")


def test_push_dry_run_lists_files(cn_copy: Path, capsys: pytest.CaptureFixture) -> None:
    from macca_hub.cli import main

    assert main(["push", str(cn_copy), "--repo-id", "my-org/mpe-cn", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would commit 7 file(s)" in out and "(tag v1.0.0)" in out
    assert "individual_rewards/train-00000-of-00001.parquet" in out and "notes.txt" not in out


def test_existing_version_tag_is_kept_with_a_warning(cn_copy: Path, monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    import httpx2
    import huggingface_hub
    from huggingface_hub.errors import HfHubHTTPError

    RecordingApi(remote=[]).install(monkeypatch)

    def tag_exists(api, repo_id, **kwargs):
        response = httpx2.Response(409, request=httpx2.Request("POST", "http://127.0.0.1/api/tag"))
        raise HfHubHTTPError("Conflict: tag already exists", response=response)

    monkeypatch.setattr(huggingface_hub.HfApi, "create_tag", tag_exists)
    caplog.set_level(logging.WARNING)
    assert push_folder(cn_copy, "my-org/mpe-cn", token=SECRET).endswith("/commit/c0ffee")
    assert "Tag v1.0.0 already exists on my-org/mpe-cn" in caplog.text


def test_cli_push_without_network_is_one_clear_line(cn_copy: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture) -> None:
    from huggingface_hub import constants

    from macca_hub.cli import main

    assert constants.HF_HUB_OFFLINE  # the test session is offline: the first Hub call is refused
    monkeypatch.setenv("HF_TOKEN", SECRET)
    assert main(["push", str(cn_copy), "--repo-id", "my-org/mpe-cn"]) == 1
    out = capsys.readouterr()
    assert "macca-hub push: error: the Hub refused or could not be reached (OfflineModeIsEnabled" in out.err
    assert "Traceback" not in out.err and SECRET not in out.err + out.out
