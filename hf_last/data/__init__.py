"""Offline task builders returning ``datasets.DatasetDict`` (train/validation/test), cached as Arrow.

>>> from hf_last.data import load_task, TASKS
>>> data = load_task("listops", num_train=1000)              # built once, then loaded from the cache
>>> config_kwargs = TASKS["listops"].config_kwargs(data)     # input_size/vocab_size, num_labels, id2label

Record format: continuous tasks (digits, sfashion, psfashion, speech, pathfinder) hold ``input_values``, a list
of L floats per record (one channel; batches are (B, L), which the models read as (B, L, 1)); token
tasks (listops) hold ``input_ids``, an unpadded list of ints (pad id 0). Every record has ``label``
(a ``ClassLabel``); speech adds ``speaker``. Batch with ``hf_last.collate.collate_sequences``
(pads ``input_ids`` with ``TASKS[name].pad_id`` and adds ``attention_mask``). See each task
module for its settings, and ``cache`` for where data is stored.
"""

from .cache import cache_path, cache_root, fingerprint
from .permutations import bitreversal_permutation
from .registry import TASKS, TaskInfo, load_split, load_task

__all__ = ["TASKS", "TaskInfo", "load_split", "load_task", "bitreversal_permutation", "cache_root",
           "cache_path", "fingerprint"]
