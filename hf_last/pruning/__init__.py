"""LAST pruning: criteria (pure functions), plans (JSON) and the pruner (scores -> plan -> new model)."""

from .criteria import METHODS
from .plan import PruningPlan
from .pruner import LASTPruner
from .subsystems import ModalSubsystems, is_prunable

__all__ = ["LASTPruner", "METHODS", "ModalSubsystems", "PruningPlan", "is_prunable"]
