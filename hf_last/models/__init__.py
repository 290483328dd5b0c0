from .s4d import S4DConfig, S4DForSequenceClassification, S4DModel
from .s5 import S5Config, S5ForSequenceClassification, S5Model

FAMILIES = ("s4d", "s5")  # the short names of the model families (training, the CLI, the shipped checkpoints)
