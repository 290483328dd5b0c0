"""LAST pruning: criteria (pure functions), plans (JSON) and the pruner (scores -> plan -> new model)."""

from .criteria import METHODS
from .plan import PruningPlan
from .pruner import LASTPruner
from ..models.pruning_contract import ModalSubsystems, is_prunable  # the layers' contract, re-exported

__all__ = ["LASTPruner", "METHODS", "ModalSubsystems", "PruningPlan", "is_prunable"]
