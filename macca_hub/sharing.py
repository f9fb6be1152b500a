"""Publish dataset and model folders to the Hugging Face Hub, with cards checked before anything is sent.

The committed file set is computed here (:func:`planned_operations`) as ``huggingface_hub``
``CommitOperationAdd`` objects, then handed unchanged to ``HfApi.create_commit`` (the primitive
``upload_folder`` itself uses), so what the offline tests inspect is exactly what is uploaded:

* a dataset: ``README.md``, every parquet file matched by the card's ``configs:`` block, and
  ``meta/*.json|*.png|*.npy``. With ``without_individual_rewards=True`` (a held-out benchmark)
  the hidden ``individual_rewards`` config is dropped: its parquet files are not uploaded, its
  entries leave the card (``configs``, ``dataset_info``) and ``meta/info.json``, and the per-agent
  return statistics leave ``meta/stats.json``.
* a model: the top-level ``config.json``, ``*.safetensors``, ``README.md`` and any other ``*.json``
  / ``*.png`` / ``*.md``; sub-folders (training checkpoints) and pickle files are never uploaded.

Each push is tagged ``v<builder_version>`` (datasets: ``meta/info.json``; models: ``config.json``,
else the macca_hub version). The token is passed to ``HfApi`` and never logged or printed.
"""

from __future__ import annotations

import copy
import fnmatch
import io
import json
import logging
import os
import re
from pathlib import Path
from typing import Any

from huggingface_hub import CommitOperationAdd

from macca_hub.hub import REPO_ID_PATTERN, validate_repo_id
from macca_hub.utils.io import read_json

logger = logging.getLogger(__name__)

INDIVIDUAL_CONFIG = "individual_rewards"
DATASET_META_PATTERNS = ("meta/*.json", "meta/*.png", "meta/*.npy")
MODEL_PATTERNS = ("*.json", "*.safetensors", "*.md", "*.png")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
REQUIRED_CARD_FIELDS = {
    "dataset": ("license", "pretty_name", "task_categories", "tags", "configs"),
    "model": ("license", "tags"),
}
#: Keys (in meta/info.json of a relabeled dataset, or a model's top-level JSON files) that link repos.
SOURCE_DATASET_KEYS = ("source_dataset", "relabeled_from")
REWARD_MODEL_KEYS = ("reward_model",)
MODEL_DATASET_KEYS = ("dataset", "source_dataset", "train_dataset")
_TAG_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class CardError(ValueError):
    """A card that is missing, unreadable or incomplete; the message lists every problem and the fix."""


# -- small helpers --------------------------------------------------------------------------------
def check_repo_id(repo_id: str) -> str:
    """Our ``org/name`` rule plus the Hub's own (no ``--``, no ``.git`` suffix...), as one ValueError."""
    from huggingface_hub.utils import HFValidationError
    from huggingface_hub.utils import validate_repo_id as hf_validate

    validate_repo_id(repo_id)
    try:
        hf_validate(repo_id)
    except HFValidationError as err:
        raise ValueError(f"Invalid repo id {repo_id!r}: {err} Use 'org/name', e.g. 'macca/mpe-cn-expert'.") from None
    if repo_id.endswith(".git"):
        raise ValueError(f"Invalid repo id {repo_id!r}: it must not end with '.git'.")
    return repo_id


def _check_repo_type(repo_type: str) -> str:
    if repo_type not in ("dataset", "model"):
        raise ValueError(f"repo_type must be 'dataset' or 'model', got {repo_type!r}.")
    return repo_type


def detect_repo_type(folder: str | os.PathLike) -> str:
    """``dataset`` if the folder has ``meta/info.json``, ``model`` if it has ``config.json``."""
    folder = Path(folder)
    if (folder / "meta" / "info.json").is_file():
        return "dataset"
    if (folder / "config.json").is_file():
        return "model"
    raise FileNotFoundError(f"{folder} is neither a dataset folder (meta/info.json) nor a model folder (config.json); "
                            "build a dataset with `macca-hub build` or save a model with `save_pretrained`.")


def revision_tag(folder: str | os.PathLike, repo_type: str) -> str:
    """``v<builder_version>``: from ``meta/info.json`` (datasets) or ``config.json`` (models).

    A model config without a ``builder_version``/``version`` gets the installed macca_hub version.
    """
    from importlib.metadata import PackageNotFoundError, version

    folder = Path(folder)
    _check_repo_type(repo_type)
    meta_file = folder / "meta" / "info.json" if repo_type == "dataset" else folder / "config.json"
    meta = read_json(meta_file) if meta_file.is_file() else {}
    value = meta.get("builder_version") or meta.get("version")
    if not value:
        if repo_type == "dataset":
            raise CardError(f"{meta_file} has no 'builder_version'; rebuild the dataset with `macca-hub build`.")
        try:
            value = version("macca_hub")
        except PackageNotFoundError:
            value = "0.0.0"
    tag = f"v{str(value).lstrip('v')}"
    if not _TAG_PATTERN.match(tag):
        raise CardError(f"Version {value!r} in {meta_file} does not make a valid tag ({tag!r}); use e.g. '1.0.0'.")
    return tag


def _split_card(text: str) -> tuple[dict[str, Any] | None, str]:
    """(YAML metadata or None when there is no front matter, body)."""
    import yaml
    from huggingface_hub.repocard import REGEX_YAML_BLOCK

    match = REGEX_YAML_BLOCK.search(text)
    if not match:
        return None, text
    data = yaml.safe_load(match.group(2))
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise yaml.YAMLError("the metadata block is not a mapping")
    return data, text[match.end():]


def _config_patterns(config: dict[str, Any]) -> list[str]:
    """Every path pattern of one ``configs:`` entry (``data_files`` as str, list, or split dicts)."""
    files = config.get("data_files")
    items = files if isinstance(files, list) else [files]
    out: list[str] = []
    for item in items:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            path = item.get("path")
            out.extend([path] if isinstance(path, str) else list(path or []))
    return out


def _files(folder: Path) -> list[str]:
    """Relative POSIX paths of every non-hidden file under ``folder``, sorted."""
    out = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            out.append(rel.as_posix())
    return out


def _match(paths: list[str], patterns: list[str] | tuple[str, ...]) -> list[str]:
    return [p for p in paths if any(fnmatch.fnmatch(p, pat) for pat in patterns)]


def _linked_repo_ids(meta: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
    """Repo ids that ``meta`` names under ``keys`` (a string, or a dict with ``repo_id`` / ``model_id``)."""
    out = []
    for key in keys:
        value = meta.get(key)
        if isinstance(value, dict):
            value = value.get("repo_id") or value.get("model_id")
        if value is None:
            continue
        if isinstance(value, str) and REPO_ID_PATTERN.match(value) and not Path(value).expanduser().is_absolute():
            out.append(value)
        else:
            logger.warning("%s=%r is not a Hub repo id; the card cannot link it.", key, value)
    return out


# -- card validation ------------------------------------------------------------------------------
def validate_card(folder: str | os.PathLike, repo_type: str, card_text: str | None = None) -> dict[str, Any]:
    """Check the card of ``folder`` before upload; returns its YAML metadata or raises :class:`CardError`.

    Checks: the YAML block parses and builds ``huggingface_hub`` card data; the required fields
    are present and non-empty; (datasets) every ``configs:`` entry matches files in the folder;
    and links: a relabeled dataset whose ``meta/info.json`` has ``relabeled_from`` (or
    ``source_dataset``) lists that repo in the card's ``source_datasets``, and one with
    ``reward_model`` (a repo id, or a dict with ``model_id``/``repo_id``) names that repo in its
    card; a model whose top-level JSON files name a ``dataset`` repo lists it in ``datasets``.
    """
    import yaml
    from huggingface_hub import DatasetCardData, ModelCardData

    folder = Path(folder)
    _check_repo_type(repo_type)
    card_path = folder / "README.md"
    if card_text is None:
        if not card_path.is_file():
            raise CardError(f"{card_path} is missing: every {repo_type} needs a card before upload. Write it with "
                            f"{'`macca_hub.cards.write_dataset_card`' if repo_type == 'dataset' else 'save_pretrained (extra_files)'}.")
        card_text = card_path.read_text(encoding="utf-8")
    try:
        data, body = _split_card(card_text)
    except yaml.YAMLError as err:
        raise CardError(f"The YAML metadata of {card_path} is invalid ({err}); fix the block between the '---' lines.") from None
    if data is None:
        raise CardError(f"{card_path} has no YAML metadata block ('---' ... '---' at the top); re-render the card.")
    try:
        (DatasetCardData if repo_type == "dataset" else ModelCardData)(**copy.deepcopy(data))
    except Exception as err:  # the card classes' own checks (types of known fields)
        raise CardError(f"The metadata of {card_path} is not valid {repo_type} card data: {err}") from None

    problems = [f"missing field {name!r}" for name in REQUIRED_CARD_FIELDS[repo_type]
                if data.get(name) in (None, "", [], {})]
    files = _files(folder)
    if repo_type == "dataset":
        info = read_json(folder / "meta" / "info.json") if (folder / "meta" / "info.json").is_file() else None
        if info is None:
            problems.append("meta/info.json is missing (rebuild the dataset with `macca-hub build`)")
        for entry in data.get("dataset_info") or []:
            splits = entry.get("splits", []) if isinstance(entry, dict) else None
            if not isinstance(splits, list) or not all(
                    isinstance(sp, dict) and {"name", "num_examples", "num_bytes"} <= set(sp) for sp in splits):
                problems.append(f"dataset_info entry {entry!r} needs splits with name, num_examples and num_bytes "
                                "(as `datasets` requires)")
        configs = data.get("configs") or []
        names = [c.get("config_name") for c in configs if isinstance(c, dict)]
        if configs and "default" not in names:
            problems.append(f"configs {names} have no 'default' config")
        for config in configs:
            if not isinstance(config, dict):
                problems.append(f"configs entry {config!r} is not a mapping")
                continue
            patterns = _config_patterns(config)
            if not patterns:
                problems.append(f"config {config.get('config_name')!r} has no data_files")
            for pattern in patterns:
                if not _match(files, [pattern]):
                    problems.append(f"config {config.get('config_name')!r}: no file in the folder matches {pattern!r}")
        if info is not None:
            sources = data.get("source_datasets") or []
            for repo in _linked_repo_ids(info, SOURCE_DATASET_KEYS):
                if repo not in sources:
                    problems.append(f"meta/info.json names source dataset {repo!r} but the card's source_datasets "
                                    f"{sources} does not list it")
            for repo in _linked_repo_ids(info, REWARD_MODEL_KEYS):
                if repo not in card_text:
                    problems.append(f"meta/info.json names reward model {repo!r} but the card never links it")
    else:
        if "config.json" not in files:
            problems.append("config.json is missing (save the model with save_pretrained)")
        if not _match([f for f in files if "/" not in f], ["*.safetensors"]):
            problems.append("no *.safetensors weights (save the model with save_pretrained)")
        listed = data.get("datasets") or []
        listed = [listed] if isinstance(listed, str) else list(listed)
        for name in _match([f for f in files if "/" not in f], ["*.json"]):
            meta = read_json(folder / name)
            for repo in _linked_repo_ids(meta, MODEL_DATASET_KEYS) if isinstance(meta, dict) else []:
                if repo not in listed:
                    problems.append(f"{name} names dataset {repo!r} but the card's datasets {listed} does not list it")
    if problems:
        raise CardError(f"The card {card_path} is incomplete: " + "; ".join(problems)
                        + ". Fix the folder (re-render its card) before pushing.")
    return data


# -- the file set ---------------------------------------------------------------------------------
def _heldout_card(card_text: str) -> str:
    """The dataset card without the hidden config, with a note that it is held out."""
    from huggingface_hub import DatasetCard

    card = DatasetCard(card_text)
    meta = card.data.to_dict()
    meta["configs"] = [c for c in meta.get("configs", []) if c.get("config_name") != INDIVIDUAL_CONFIG]
    if isinstance(meta.get("dataset_info"), list):
        meta["dataset_info"] = [c for c in meta["dataset_info"] if c.get("config_name") != INDIVIDUAL_CONFIG]
    note = ("\n> **Held-out benchmark.** This copy publishes the team-reward `default` config only: the hidden "
            "`individual_rewards` config (and per-agent return statistics) are not included, so credit "
            "assignment cannot be read off the data.\n")
    body = card.text
    title_end = body.find("\n", body.find("# ")) if "# " in body else 0
    body = body[:title_end + 1] + note + body[title_end + 1:]
    from huggingface_hub import DatasetCardData

    return DatasetCard(f"---\n{DatasetCardData(**meta).to_yaml()}\n---\n{body}").content


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()


def planned_operations(folder: str | os.PathLike, repo_type: str = "dataset",
                       without_individual_rewards: bool = False) -> list[CommitOperationAdd]:
    """The exact ``CommitOperationAdd`` list a push commits (sorted by path); validates the card first.

    Rewritten files (the held-out variant's card and metadata) are in-memory bytes; all others
    point at the files on disk, so nothing large is copied.
    """
    folder = Path(folder).expanduser()
    _check_repo_type(repo_type)
    if not folder.is_dir():
        raise FileNotFoundError(f"No folder at {folder} to push.")
    files = _files(folder)
    if repo_type == "model":
        if without_individual_rewards:
            raise ValueError("--without-individual-rewards applies to datasets only.")
        pickles = [f for f in files if f.endswith(PICKLE_SUFFIXES)]
        if pickles:
            logger.warning("Not uploading pickle checkpoints %s: only safetensors are published.", pickles)
        validate_card(folder, "model")
        selected = _match([f for f in files if "/" not in f], MODEL_PATTERNS)  # top level only: no checkpoints/
        left_out = sorted(set(files) - set(selected))
        if left_out:
            logger.info("Not uploading %d file(s) outside the Hub layout: %s", len(left_out), left_out[:10])
        return [CommitOperationAdd(path_in_repo=p, path_or_fileobj=str(folder / p)) for p in selected]

    card_text = (folder / "README.md").read_text(encoding="utf-8") if (folder / "README.md").is_file() else None
    overrides: dict[str, bytes] = {}
    if without_individual_rewards:
        validate_card(folder, "dataset")  # the full card must be sound before we derive the held-out one
        card_text = _heldout_card(card_text or "")
        info = read_json(folder / "meta" / "info.json")
        info["configs"] = {k: v for k, v in info.get("configs", {}).items() if k != INDIVIDUAL_CONFIG}
        info["individual_rewards_published"] = False
        overrides["README.md"] = card_text.encode("utf-8")
        overrides["meta/info.json"] = _json_bytes(info)
        if (folder / "meta" / "stats.json").is_file():
            stats = read_json(folder / "meta" / "stats.json")
            stats.pop("agent_episode_return", None)
            overrides["meta/stats.json"] = _json_bytes(stats)
    meta = validate_card(folder, "dataset", card_text=card_text)
    data_patterns = [p for c in meta["configs"] for p in _config_patterns(c)]
    selected = sorted(set(["README.md"] + _match(files, data_patterns) + _match(files, DATASET_META_PATTERNS)))
    if without_individual_rewards:
        leaked = [p for p in selected if p.startswith(f"{INDIVIDUAL_CONFIG}/")]
        if leaked:
            raise ValueError(f"The held-out card still matches hidden files {leaked}; fix its configs block.")
    left_out = sorted(set(files) - set(selected))
    hidden = [p for p in left_out if p.startswith(f"{INDIVIDUAL_CONFIG}/")]
    if hidden and without_individual_rewards:
        logger.info("Held out: %d file(s) of the hidden %r config are not uploaded.", len(hidden), INDIVIDUAL_CONFIG)
        left_out = [p for p in left_out if p not in hidden]
    if left_out:
        logger.info("Not uploading %d file(s) outside the Hub layout: %s", len(left_out), left_out[:10])
    return [CommitOperationAdd(path_in_repo=p,
                               path_or_fileobj=io.BytesIO(overrides[p]) if p in overrides else str(folder / p))
            for p in selected]


def managed_patterns(repo_type: str, operations: list[CommitOperationAdd]) -> list[str]:
    """Remote paths a push owns: stale files matching these (old shards, a hidden config) are deleted."""
    if repo_type == "model":
        return list(MODEL_PATTERNS)
    dirs = {op.path_in_repo.split("/")[0] for op in operations if "/" in op.path_in_repo}
    return sorted({"README.md", *DATASET_META_PATTERNS, "data/*", f"{INDIVIDUAL_CONFIG}/*", *(f"{d}/*" for d in dirs)})


# -- upload ---------------------------------------------------------------------------------------
def push_folder(folder: str | os.PathLike, repo_id: str, repo_type: str = "dataset", token: str | None = None,
                private: bool = False, commit_message: str | None = None, revision: str | None = None,
                without_individual_rewards: bool = False, tag: bool = True) -> str:
    """Upload a dataset or model folder to ``repo_id`` as one commit, tag it, and return the commit URL.

    ``revision`` is the branch to commit to (created if needed; default ``main``). Remote files
    in the paths this push owns that are not in the new set (stale shards, or a hidden config
    when publishing ``without_individual_rewards``) are deleted in the same commit.
    """
    from huggingface_hub import CommitOperationDelete, HfApi
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    check_repo_id(repo_id)
    folder = Path(folder).expanduser()
    operations = planned_operations(folder, repo_type, without_individual_rewards=without_individual_rewards)
    version_tag = revision_tag(folder, repo_type) if tag else None
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
    if revision not in (None, "main"):
        api.create_branch(repo_id, branch=revision, repo_type=repo_type, exist_ok=True)
    try:
        remote = api.list_repo_files(repo_id, repo_type=repo_type, revision=revision)
    except (RepositoryNotFoundError, RevisionNotFoundError):
        remote = []
    new = {op.path_in_repo for op in operations}
    owned = managed_patterns(repo_type, operations)
    deletions = [CommitOperationDelete(path_in_repo=p) for p in remote
                 if p not in new and p != ".gitattributes" and any(fnmatch.fnmatch(p, pat) for pat in owned)]
    what = "dataset (team-reward config only)" if without_individual_rewards else repo_type
    logger.info("Pushing %s %s -> %s: %d file(s), %d stale deleted", what, folder, repo_id, len(operations), len(deletions))
    info = api.create_commit(repo_id, operations=[*deletions, *operations], repo_type=repo_type, revision=revision,
                             commit_message=commit_message or f"Upload {what} with macca_hub ({version_tag or 'untagged'})")
    if version_tag:
        try:
            api.create_tag(repo_id, tag=version_tag, revision=info.oid, repo_type=repo_type,
                           tag_message=f"{what} built by macca_hub {version_tag}")
        except HfHubHTTPError as err:
            if getattr(err.response, "status_code", None) != 409:
                raise
            logger.warning("Tag %s already exists on %s and still points at the earlier upload; bump the "
                           "builder version to tag this one.", version_tag, repo_id)
    return str(info.commit_url)
