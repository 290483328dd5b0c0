from .configuration_s4d import S4DConfig
from .modeling_s4d import S4DForSequenceClassification, S4DMixer, S4DModel, S4DPreTrainedModel

__all__ = ["S4DConfig", "S4DForSequenceClassification", "S4DMixer", "S4DModel", "S4DPreTrainedModel"]
