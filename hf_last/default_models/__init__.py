"""Small S4D and S5 classifiers trained on the ``digits`` task, shipped with the package.

>>> from transformers import AutoModelForSequenceClassification
>>> from hf_last.default_models import default_model_path
>>> model = AutoModelForSequenceClassification.from_pretrained(default_model_path("s5"))

Each folder holds ``config.json``, ``model.safetensors``, a model card (``README.md``), ``metrics.json``
(arguments, per-epoch history, test accuracy of the saved checkpoint) and ``training_run.json`` (the exact
command and its wall time). They were trained with ``results/training/run.sh`` (see results/training/).
"""

from __future__ import annotations

from pathlib import Path

MODELS = {"s4d": "s4d-digits", "s5": "s5-digits"}


def default_model_path(family: str) -> Path:
    """Folder of the shipped ``digits`` checkpoint of ``family`` (``"s4d"`` or ``"s5"``)."""
    try:
        name = MODELS[family.lower()]
    except (KeyError, AttributeError):
        raise ValueError(f"no default model for family {family!r}; available: {sorted(MODELS)}") from None
    path = Path(__file__).parent / name
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"{path} is missing config.json: the package was installed without its data files")
    return path


__all__ = ["MODELS", "default_model_path"]
