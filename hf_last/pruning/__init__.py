"""LAST pruning: criteria (pure functions), plans (JSON) and the pruner (scores -> plan -> new model)."""

from .criteria import CRITERIA, METHODS, Criterion, get_criterion, register_criterion
from .plan import PruningPlan
from .pruner import LASTPruner
from ..models.pruning_contract import ModalSubsystems, is_prunable  # the layers' contract, re-exported

__all__ = ["CRITERIA", "Criterion", "LASTPruner", "METHODS", "get_criterion", "register_criterion", "ModalSubsystems", "PruningPlan", "is_prunable"]
