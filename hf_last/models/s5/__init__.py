from .configuration_s5 import S5Config
from .modeling_s5 import S5ForSequenceClassification, S5Mixer, S5Model, S5PreTrainedModel

__all__ = ["S5Config", "S5ForSequenceClassification", "S5Mixer", "S5Model", "S5PreTrainedModel"]
