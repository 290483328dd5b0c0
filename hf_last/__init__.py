"""hf_last: S4D and S5 state space models for transformers, compressed with LAST."""

from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification

from ._version import __version__
from .collate import collate_sequences
from .models import S4DConfig, S4DForSequenceClassification, S4DModel, S5Config, S5ForSequenceClassification, S5Model
from .optimization import param_groups
from .pruning import METHODS, LASTPruner, PruningPlan


def _register_auto_classes() -> None:
    for config_class, base, classifier in (
        (S4DConfig, S4DModel, S4DForSequenceClassification),
        (S5Config, S5Model, S5ForSequenceClassification),
    ):
        AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
        AutoModel.register(config_class, base, exist_ok=True)
        AutoModelForSequenceClassification.register(config_class, classifier, exist_ok=True)


_register_auto_classes()

__all__ = [
    "LASTPruner",
    "METHODS",
    "PruningPlan",
    "S4DConfig",
    "S4DForSequenceClassification",
    "S4DModel",
    "S5Config",
    "S5ForSequenceClassification",
    "S5Model",
    "collate_sequences",
    "param_groups",
]
