"""Where datasets and models live, and the Hub-format save/load mixin every model uses.

Resolution order for a name like ``macca/mpe-cn-expert`` (datasets) or ``macca/cn-expert-causal-reward``
(models): an existing local folder path; then the local root (``$MACCA_HUB_HOME``, by default
``~/.cache/macca_hub``) laid out like a Hub mirror, ``<root>/datasets/<org>/<name>`` and
``<root>/models/<org>/<name>``; then the Hugging Face Hub (or whatever ``HF_ENDPOINT`` points at).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch
from safetensors.torch import load_file, save_file

from macca_hub.utils.configs import config_from_dict, config_to_dict
from macca_hub.utils.io import atomic_directory, read_json, write_json

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
REPO_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")

M = TypeVar("M", bound="HubMixin")


def hub_home() -> Path:
    """The local root that holds built datasets and saved models (``$MACCA_HUB_HOME``)."""
    return Path(os.environ.get("MACCA_HUB_HOME", Path.home() / ".cache" / "macca_hub")).expanduser()


def validate_repo_id(repo_id: str) -> str:
    if not REPO_ID_PATTERN.match(repo_id) or ".." in repo_id:
        raise ValueError(
            f"Invalid repo id {repo_id!r}: expected 'org/name' with letters, digits, '.', '_' or '-' "
            "(for example 'macca/mpe-cn-expert')."
        )
    return repo_id


def local_repo_path(repo_id: str, repo_type: str = "dataset") -> Path:
    """Path of ``repo_id`` inside the local root, whether it exists or not."""
    if repo_type not in ("dataset", "model"):
        raise ValueError(f"repo_type must be 'dataset' or 'model', got {repo_type!r}")
    validate_repo_id(repo_id)
    return hub_home() / f"{repo_type}s" / repo_id


def resolve_model_dir(name_or_path: str | os.PathLike, revision: str | None = None) -> Path:
    """Find a saved model: a folder, the local root, then the Hub (via ``snapshot_download``)."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    name = str(name_or_path)
    if REPO_ID_PATTERN.match(name):
        local = local_repo_path(name, "model")
        if local.is_dir():
            return local
        from huggingface_hub import snapshot_download

        try:
            return Path(snapshot_download(name, repo_type="model", revision=revision,
                                          allow_patterns=["*.json", "*.safetensors", "*.md", "*.png"]))
        except Exception as err:  # network off, repo missing, offline mode...
            raise FileNotFoundError(
                f"Model {name!r} is neither a folder, nor under the local root {hub_home() / 'models'}, "
                f"nor reachable on the Hub ({type(err).__name__}: {err}). Train it with "
                "`macca-hub train-reward --output <folder>` or set HF_ENDPOINT to a mirror (`macca-hub serve`)."
            ) from err
    raise FileNotFoundError(f"No model folder at {path} and {name!r} is not a repo id of the form 'org/name'.")


class HubMixin:
    """``save_pretrained`` / ``from_pretrained`` / ``push_to_hub`` with ``config.json`` + ``model.safetensors``.

    Subclasses are ``torch.nn.Module``s with a dataclass ``config`` attribute and set
    ``config_class``. Only safetensors are ever loaded (never pickle), and a weight whose shape
    disagrees with the config raises an error naming both shapes.
    """

    config_class: ClassVar[type]
    model_type: ClassVar[str]
    config: Any

    # -- hooks -------------------------------------------------------------------------------
    def extra_files(self, folder: Path) -> None:
        """Write extra files (model card, plots) into ``folder``; subclasses override."""

    def extra_tensors(self) -> dict[str, torch.Tensor]:
        """Buffers beyond ``state_dict`` to store (none by default)."""
        return {}

    # -- save / load -------------------------------------------------------------------------
    def save_pretrained(self, save_directory: str | os.PathLike, overwrite: bool = True) -> Path:
        """Atomically write ``config.json``, ``model.safetensors`` and any card into a folder."""
        assert isinstance(self, torch.nn.Module)
        with atomic_directory(save_directory, overwrite=overwrite) as tmp:
            write_json(tmp / CONFIG_NAME, {"model_type": self.model_type, **config_to_dict(self.config)})
            tensors = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
            save_file(tensors, str(tmp / WEIGHTS_NAME), metadata={"format": "pt", "model_type": self.model_type})
            self.extra_files(tmp)
        return Path(save_directory)

    @classmethod
    def load_config(cls, folder: Path) -> Any:
        data = read_json(folder / CONFIG_NAME)
        model_type = data.pop("model_type", cls.model_type)
        if model_type != cls.model_type:
            raise ValueError(f"{folder} holds a {model_type!r} model, not a {cls.model_type!r} model.")
        return config_from_dict(cls.config_class, data)

    @classmethod
    def from_pretrained(cls: type[M], name_or_path: str | os.PathLike, revision: str | None = None,
                        map_location: str | torch.device = "cpu") -> M:
        """Load from a folder, the local root or the Hub; the result gives bit-identical outputs."""
        folder = resolve_model_dir(name_or_path, revision=revision)
        if not (folder / CONFIG_NAME).is_file():
            raise FileNotFoundError(f"{folder} has no {CONFIG_NAME}; it is not a saved {cls.__name__}.")
        weights = folder / WEIGHTS_NAME
        if not weights.is_file():
            others = sorted(p.name for p in folder.glob("*.bin")) + sorted(p.name for p in folder.glob("*.pt*"))
            hint = f" It holds {others}: pickle checkpoints are never loaded, re-save with safetensors." if others else ""
            raise FileNotFoundError(f"{folder} has no {WEIGHTS_NAME}.{hint}")
        config = cls.load_config(folder)
        model = cls(config)  # type: ignore[call-arg]
        state = load_file(str(weights), device=str(map_location))
        expected = model.state_dict()  # type: ignore[attr-defined]
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        if missing or unexpected:
            raise ValueError(f"{weights} does not match {cls.__name__}: missing {missing}, unexpected {unexpected}.")
        for key, tensor in state.items():
            if tuple(tensor.shape) != tuple(expected[key].shape):
                raise ValueError(
                    f"Weight {key!r} in {weights} has shape {tuple(tensor.shape)} but the config in "
                    f"{folder / CONFIG_NAME} implies {tuple(expected[key].shape)}; the config and weights disagree."
                )
        model.load_state_dict(state)  # type: ignore[attr-defined]
        model.eval()  # type: ignore[attr-defined]
        return model

    def push_to_hub(self, repo_id: str, token: str | None = None, private: bool = False,
                    commit_message: str | None = None, revision: str | None = None) -> str:
        """Save into a temporary folder and upload it with ``huggingface_hub``; returns the commit URL."""
        import tempfile

        from macca_hub.sharing import push_folder

        with tempfile.TemporaryDirectory() as tmp:
            folder = self.save_pretrained(Path(tmp) / "model")
            return push_folder(folder, repo_id, repo_type="model", token=token, private=private,
                               commit_message=commit_message or f"Upload {self.model_type}", revision=revision)

