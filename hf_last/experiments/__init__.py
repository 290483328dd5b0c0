"""Experiment drivers: library functions that take a checkpoint or model, run data-parallel under accelerate
(every process evaluates a shard and gets the same numbers; only the main process writes files or pushes),
and return their results. The ``hf-last`` CLI (:mod:`hf_last.cli`) and ``scripts/*.py`` call them.

- :mod:`.sweep`: every method x ratio on a task split -> records, plots, Table-1 summary.
- :mod:`.prune`: search (or fixed ratio) -> pruned model with card and plan, saved and/or pushed.
- :mod:`.demo`: the shipped digits checkpoint pruned, evaluated and written out.
"""

from .demo import DEMO_BASELINES, DEMO_MARKER, check_output_dir, run_demo
from .errors import ExperimentSetupError
from .prune import prune_checkpoint, prune_with_search, save_pruned
from .sweep import run_sweep, sweep_checkpoint, write_sweep_outputs

__all__ = ["DEMO_BASELINES", "DEMO_MARKER", "ExperimentSetupError", "check_output_dir", "prune_checkpoint",
           "prune_with_search", "run_demo", "run_sweep", "save_pruned", "sweep_checkpoint", "write_sweep_outputs"]
