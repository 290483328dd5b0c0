"""The sweep driver: every pruning method at every ratio on one task split, then records, plots and the
Table-1 summary on disk."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..accelerator import get_accelerator
from ..collate import model_pad_token_id
from ..data import load_split
from ..evaluation import DEFAULT_RATIOS, sweep
from ..loading import checkpoint_name, load_model
from ..pruning import LASTPruner
from ..reporting import (
    HORIZON_REFERENCE,
    MAX_ACCURACY_LOSS,
    horizon_protocol_markdown,
    method_label,
    paper_comparison_markdown,
    plot_accuracy_vs_states,
    plot_poles,
    plot_states_per_layer,
    protocol,
    summarize,
    summary_markdown,
    write_records_csv,
    write_records_json,
)
from .errors import ExperimentSetupError


def write_sweep_outputs(records: list[dict], output_dir, task: str, model=None, metadata: dict | None = None,
                        max_accuracy_loss: float = MAX_ACCURACY_LOSS, pole_layer: int = 0,
                        layer_ratios=(0.2, 0.4, 0.6, 0.8)) -> dict[str, Path]:
    """JSON, CSV, plots and the Table-1 summary of one task's sweep in ``output_dir``; returns the paths.

    With ``model`` (the dense model), also the poles of layer ``pole_layer`` before and after LAST pruning at
    the protocol ratio (0.5 when the task is non-compressible)."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    meta = dict(metadata or {}, task=task)
    paths = {
        "json": write_records_json(records, output_dir / "sweep.json", meta),
        "csv": write_records_csv(records, output_dir / "sweep.csv"),
    }
    name = meta.get("model", "model")
    paths["accuracy_plot"] = plot_accuracy_vs_states(records, output_dir / "accuracy_vs_states.png",
                                                     title=f"{name} on {task}")
    paths["ratio_plot"] = plot_accuracy_vs_states(records, output_dir / "accuracy_vs_ratio.png",
                                                  title=f"{name} on {task}", x="requested_ratio")
    methods = {r["method"] for r in records}
    reference = "last" if "last" in methods else sorted(methods)[0]
    paths["layers_plot"] = plot_states_per_layer(records, output_dir / "states_per_layer.png", method=reference,
                                                 ratios=layer_ratios, title=f"{method_label(reference)}: {name} on {task}")
    summary = summarize({task: records}, reference=reference, max_accuracy_loss=max_accuracy_loss)
    text = summary_markdown(summary, title=f"{name} on {task}: accuracy loss at {method_label(reference)}'s ratio")
    horizon_title = f"{name} on {task}: accuracy loss at {method_label(HORIZON_REFERENCE)}'s ratio"
    text += horizon_protocol_markdown({task: records}, reference, max_accuracy_loss, title=horizon_title)
    text += "\n" + paper_comparison_markdown(summary)
    paths["summary"] = output_dir / "summary.md"
    paths["summary"].write_text(text, encoding="utf-8")
    paths["summary_json"] = output_dir / "summary.json"
    paths["summary_json"].write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if model is not None and reference in ("last",):
        ratio = summary["tasks"][task]["ratio"] or 0.5
        pruned = LASTPruner(model, method=reference).prune(ratio)
        paths["poles_plot"] = plot_poles(model, pruned, output_dir / f"poles_layer{pole_layer}.png", layer=pole_layer,
                                         title=f"{name}, layer {pole_layer}: poles before / after "
                                               f"{method_label(reference)} at {100 * ratio:.0f} %")
    return paths


def run_sweep(model, dataset, output_dir=None, *, task: str = "task", methods=None, ratios=DEFAULT_RATIOS,
              batch_size: int = 128, accelerator=None, max_accuracy_loss: float = MAX_ACCURACY_LOSS,
              metadata: dict | None = None, pole_layer: int = 0, progress: bool = False, **sweep_kwargs):
    """:func:`hf_last.evaluation.sweep` data-parallel, then (main process only) :func:`write_sweep_outputs`.

    Returns ``(records, summary)`` on every process (the summary of this one task)."""
    accelerator = get_accelerator(accelerator)
    start = time.perf_counter()
    records = sweep(model, dataset, methods=methods, ratios=ratios, batch_size=batch_size, accelerator=accelerator,
                    pad_token_id=model_pad_token_id(model), progress=progress, **sweep_kwargs)
    meta = dict(metadata or {}, num_processes=accelerator.num_processes, num_samples=len(dataset),
                seconds=round(time.perf_counter() - start, 2))
    reference = "last" if any(r["method"] == "last" for r in records) else records[0]["method"]
    summary = protocol(records, reference=reference, max_accuracy_loss=max_accuracy_loss)
    if output_dir is not None and accelerator.is_main_process:
        write_sweep_outputs(records, output_dir, task, model=model, metadata=meta,
                            max_accuracy_loss=max_accuracy_loss, pole_layer=pole_layer)
    accelerator.wait_for_everyone()
    return records, summary


def sweep_checkpoint(checkpoint: str, output_dir, *, task: str = "digits", split: str = "test",
                     task_settings: dict | None = None, max_samples: int | None = None, revision: str | None = None,
                     accelerator=None, **run_sweep_kwargs):
    """Load ``checkpoint`` (folder or Hub id), take ``split`` of ``task`` (its first ``max_samples`` examples
    when given) and :func:`run_sweep` it into ``output_dir``. Returns ``(records, summary, num_samples)``."""
    task_settings = dict(task_settings or {})
    if max_samples is not None and max_samples < 1:
        raise ExperimentSetupError(f"max_samples must be positive, got {max_samples}")
    model = load_model(checkpoint, revision)
    dataset, forward = load_split(task, split, **task_settings)
    if max_samples is not None:
        dataset = dataset.select(range(min(max_samples, len(dataset))))
    if forward:
        raise ExperimentSetupError(f"split {split!r} needs forward arguments {forward}; the sweep does not support them")
    metadata = {"model": checkpoint_name(checkpoint), "model_path": checkpoint, "split": split,
                "task_settings": task_settings, "num_samples": len(dataset)}
    records, summary = run_sweep(model, dataset, output_dir, task=task, accelerator=accelerator, metadata=metadata,
                                 **run_sweep_kwargs)
    return records, summary, len(dataset)
