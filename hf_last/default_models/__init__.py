"""S4D and S5 classifiers trained on the ``digits`` task, shipped with the package.

They have the shape of the LAST paper's sMNIST/psMNIST models scaled to what 2 CPU cores train in minutes:
4 layers, h = 96, prenorm BatchNorm, more states than the task needs (S5: 128 per layer; S4D: 64 per
channel), Δ ∈ [0.001, 0.1], 150 epochs, dropout 0.1, AdamW lr 4e-3 with SSM lr 1e-3 — over-provisioned and
long-trained like the models the paper prunes.

>>> from transformers import AutoModelForSequenceClassification
>>> from hf_last.default_models import default_model_path
>>> model = AutoModelForSequenceClassification.from_pretrained(default_model_path("s5"))

Each folder holds ``config.json``, ``model.safetensors``, a model card (``README.md``), ``metrics.json``
(arguments, per-epoch history, test accuracy of the saved checkpoint) and ``training_run.json`` (the exact
command and its wall time). They were trained with ``results/training/run.sh`` (runs ``s5-digits-paper`` and ``s4d-digits-paper`` in
results/training/).
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
