"""Loading a model for the drivers and the CLI: a checkpoint folder, a Hub id, or the shipped checkpoint of a
model family (``hf_last.default_models``)."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification

from .models import FAMILIES
from .models.checkpoint_files import check_checkpoint_folder


def default_checkpoint(family: str) -> Path:
    """The shipped digits checkpoint of ``family`` (``s4d`` or ``s5``)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; choose one of {FAMILIES}")
    try:
        from .default_models import default_model_path
    except ImportError as error:  # optional package data: an installation may leave it out
        raise FileNotFoundError("this hf_last installation ships no default checkpoints "
                                "(hf_last.default_models is missing); pass a checkpoint path instead") from error
    path = Path(default_model_path(family))
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"the shipped {family} checkpoint is missing at {path}")
    return path


def resolve_checkpoint(model=None, default_family: str | None = None) -> str:
    """``model`` (a folder or Hub id) as a string, else the shipped checkpoint of ``default_family``."""
    if model:
        return str(model)
    if default_family is None:
        raise ValueError("pass a model (checkpoint folder or Hub id) or a default family (s4d or s5)")
    return str(default_checkpoint(default_family))


def load_model(model, revision: str | None = None):
    """A sequence classifier (or, when the checkpoint has no classifier, the base model) from a local folder or
    Hub id, in eval mode."""
    check_checkpoint_folder(model)  # names the missing config.json (AutoConfig says 'Unrecognized model')
    config = AutoConfig.from_pretrained(str(model), revision=revision)
    auto = AutoModelForSequenceClassification
    if not any(a.endswith("ForSequenceClassification") for a in (config.architectures or [])):
        auto = AutoModel
    return auto.from_pretrained(str(model), revision=revision).eval()


def checkpoint_name(path) -> str:
    """A readable name for a checkpoint: its folder, or the run folder above ``best``/``last``."""
    path = Path(path)
    return path.parent.name if path.name in ("best", "last") and path.parent.name else path.name
