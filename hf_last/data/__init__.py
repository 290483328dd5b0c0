"""Offline task builders returning ``datasets.DatasetDict`` (train/validation/test), cached as Arrow.

>>> from hf_last.data import load_task, TASKS, SequenceCollator
>>> data = load_task("listops", num_train=1000)              # built once, then loaded from the cache
>>> config_kwargs = TASKS["listops"].config_kwargs(data)     # input_size/vocab_size, num_labels, id2label
>>> collate = SequenceCollator(pad_id=TASKS["listops"].pad_id)

Record format: continuous tasks (digits, sfashion, psfashion, speech) hold ``input_values``, a list
of L floats per record (one channel; batches are (B, L), which the models read as (B, L, 1)); token
tasks (listops) hold ``input_ids``, an unpadded list of ints (pad id 0). Every record has ``label``
(a ``ClassLabel``). See each task module for its settings, and ``cache`` for where data is stored.
"""

from .cache import cache_path, cache_root, fingerprint
from .collate import SequenceCollator
from .permutations import bitreversal_permutation
from .registry import TASKS, TaskInfo, load_task

__all__ = ["TASKS", "TaskInfo", "load_task", "SequenceCollator", "bitreversal_permutation", "cache_root",
           "cache_path", "fingerprint"]
