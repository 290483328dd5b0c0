"""The task registry: what each task is (for building a matching model config) and how to build it."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

from datasets import DatasetDict

from . import digits, fashion, listops, pathfinder, speech
from .cache import load_or_build


@dataclass(frozen=True)
class TaskInfo:
    """Metadata of a task under its default settings.

    Attributes:
        name: registry key.
        input_kind: ``"values"`` (continuous ``input_values``, (L,) per record) or ``"ids"`` (``input_ids``).
        num_labels: number of classes.
        seq_len: sequence length L (the maximum length for variable-length token tasks).
        input_size: features per step of ``input_values`` (None for token tasks).
        vocab_size: size of the token vocabulary (None for continuous tasks).
        pad_id: id that pads ``input_ids`` (None for continuous tasks, whose records all have length L).
        label_names: class names, index = label.
        defaults: the generator settings ``load_task`` fills in; every one enters the cache fingerprint.
        version: builder version; bump it when a builder's output changes so old caches are not reused.
        eval_splits: extra splits and the forward kwargs to evaluate them with (e.g. ``step_rescale``).
        builder: ``builder(**settings) -> DatasetDict``.
        requires: the system package the task needs, as an install command (None when pure Python).
    """

    name: str
    input_kind: str
    num_labels: int
    seq_len: int
    input_size: int | None
    vocab_size: int | None
    pad_id: int | None
    label_names: tuple[str, ...]
    defaults: dict[str, Any]
    version: str
    builder: Callable[..., DatasetDict] = field(repr=False)
    eval_splits: dict[str, dict[str, Any]] = field(default_factory=dict)
    requires: str | None = None
    description: str = ""

    def resolve(self, **settings) -> dict[str, Any]:
        """The defaults overridden by ``settings``; unknown names raise a ``TypeError`` that lists the valid ones."""
        unknown = sorted(set(settings) - set(self.defaults))
        if unknown:
            raise TypeError(f"{self.name}: unknown setting(s) {unknown}; valid: {sorted(self.defaults)}")
        return {**self.defaults, **settings}

    def config_kwargs(self, data: DatasetDict | None = None) -> dict[str, Any]:
        """Keyword arguments for ``S4DConfig``/``S5Config`` matching this task's inputs and labels.

        Pass the loaded ``data`` when settings change the classes (e.g. speech ``words``).
        """
        names = list(data["train"].features["label"].names) if data is not None else list(self.label_names)
        return {"input_size": self.input_size, "vocab_size": self.vocab_size, "num_labels": len(names),
                "id2label": dict(enumerate(names)), "label2id": {n: i for i, n in enumerate(names)}}


TASKS: dict[str, TaskInfo] = {
    "digits": TaskInfo("digits", "values", 10, 64, 1, None, None, tuple(digits.LABELS), digits.DEFAULTS,
                       digits.VERSION, digits.build_digits,
                       description="sklearn 8x8 digits in raster order, pixels/16"),
    "sfashion": TaskInfo("sfashion", "values", 10, 784, 1, None, None, tuple(fashion.LABELS), fashion.DEFAULTS,
                         fashion.VERSION, lambda **s: fashion.build_fashion(False, **s),
                         requires=fashion.INSTALL_HINT, description="sequential Fashion-MNIST (raster order)"),
    "psfashion": TaskInfo("psfashion", "values", 10, 784, 1, None, None, tuple(fashion.LABELS), fashion.DEFAULTS,
                          fashion.VERSION, lambda **s: fashion.build_fashion(True, **s),
                          requires=fashion.INSTALL_HINT, description="bit-reversal permuted sequential Fashion-MNIST"),
    "listops": TaskInfo("listops", "ids", 10, listops.DEFAULTS["max_length"] - 1, None, len(listops.VOCAB),
                        listops.VOCAB[listops.PAD], tuple(listops.LABELS), listops.DEFAULTS, listops.VERSION,
                        listops.build_listops, description="LRA ListOps generator, variable length, pad id 0"),
    "speech": TaskInfo("speech", "values", len(speech.WORDS), speech.NUM_SAMPLES, 1, None, None, speech.WORDS,
                       speech.DEFAULTS, speech.VERSION, speech.build_speech,
                       eval_splits={"test_8khz": {"step_rescale": 2.0}}, requires=speech.INSTALL_HINT,
                       description="espeak-ng spoken words at 16 kHz; test_8khz = test[::2]"),
    "pathfinder": TaskInfo("pathfinder", "values", 2, 1024, 1, None, None, tuple(pathfinder.LABELS),
                           pathfinder.DEFAULTS, pathfinder.VERSION, pathfinder.build_pathfinder,
                           description="numpy port of LRA Pathfinder at 32x32 in [-1, 1], raster order"),
}

RUNTIME_OPTIONS = ("num_workers",)  # change how, not what, a task is built: not fingerprinted


def load_split(task: str, split: str = "test", **settings):
    """(dataset, forward kwargs) for ``split`` of ``task``; extra evaluation splits carry their own kwargs
    (e.g. speech ``test_8khz`` runs at ``step_rescale=2``)."""
    data = load_task(task, **settings)
    if split not in data:
        raise KeyError(f"task {task!r} has no split {split!r}; available: {sorted(data)}")
    return data[split], dict(TASKS[task].eval_splits.get(split, {}))


def load_task(name: str, *, use_cache: bool = True, num_workers: int | None = None, **settings) -> DatasetDict:
    """Build (or load from the cache) task ``name`` as a ``DatasetDict`` with train/validation/test splits.

    ``settings`` override the task's ``TASKS[name].defaults`` and enter the cache fingerprint;
    ``num_workers`` sizes the speech synthesis pool and is not fingerprinted. ``use_cache=False``
    builds in memory without touching the cache.
    """
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; available: {sorted(TASKS)}")
    info = TASKS[name]
    resolved = info.resolve(**settings)
    runtime = {}
    if num_workers is not None and "num_workers" in inspect.signature(info.builder).parameters:
        runtime["num_workers"] = num_workers
    return load_or_build(name, info.version, resolved, lambda: info.builder(**resolved, **runtime), use_cache)
