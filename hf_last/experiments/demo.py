"""The demo driver (``hf-last demo``): the shipped digits checkpoint pruned with LAST, evaluated before and after,
written out as a pruned model with its card and an accuracy-vs-ratio plot."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..accelerator import get_accelerator
from ..collate import model_pad_token_id
from ..data import load_split
from ..evaluation import DEFAULT_RATIOS, sweep
from ..hub import Evaluation
from ..loading import checkpoint_name, load_model
from ..reporting import MAX_ACCURACY_LOSS, method_label, plot_accuracy_vs_states, write_records_json
from .errors import ExperimentSetupError
from .prune import prune_with_search, save_pruned

DEMO_MARKER = "hf_last_demo.json"
DEMO_BASELINES = ("uniform_hinf", "global_magnitude")


def check_output_dir(output_dir, overwrite: bool = False, marker: str = DEMO_MARKER) -> Path:
    """Refuse a non-empty ``output_dir`` that is not an earlier demo output (no ``marker``) unless ``overwrite``.

    Nothing is ever deleted: the demo only (re)writes its own file names."""
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise ExperimentSetupError(f"--output-dir {output_dir} exists and is not a directory")
    if output_dir.is_dir() and any(output_dir.iterdir()) and not (output_dir / marker).is_file() and not overwrite:
        raise ExperimentSetupError(
            f"--output-dir {output_dir} is not empty and holds no earlier demo output ({marker}); choose another "
            "directory or pass --overwrite (overwrite=True; the demo writes its own files there and deletes nothing)")
    return output_dir


def run_demo(checkpoint, output_dir, *, ratio: float | None = None, max_accuracy_loss: float = MAX_ACCURACY_LOSS,
             method: str = "last", baselines=DEMO_BASELINES, batch_size: int = 512, overwrite: bool = False,
             accelerator=None) -> dict:
    """The README's main job on digits: prune ``checkpoint`` with LAST (search on validation, or ``ratio``),
    evaluate before/after on the test split, write the pruned model + card + accuracy-vs-ratio plot.

    Returns the summary written to ``output_dir/hf_last_demo.json`` (``seconds`` on the main process only)."""
    start = time.perf_counter()
    output_dir = check_output_dir(output_dir, overwrite)
    accelerator = get_accelerator(accelerator)
    if accelerator.is_main_process:  # mark the folder as ours first, so a re-run after a crash is allowed
        output_dir.mkdir(parents=True, exist_ok=True)
        if not (output_dir / DEMO_MARKER).is_file():
            (output_dir / DEMO_MARKER).write_text(json.dumps({"status": "incomplete"}) + "\n", encoding="utf-8")
    model = load_model(checkpoint)
    validation, _ = load_split("digits", "validation")
    test, _ = load_split("digits", "test")
    pruned, info = prune_with_search(model, validation, method=method, ratio=ratio,
                                     max_accuracy_loss=max_accuracy_loss, batch_size=batch_size,
                                     accelerator=accelerator)
    chosen = float(pruned.config.pruning["requested_ratio"])
    methods = [method] + [b for b in baselines if b != method]
    records = sweep(model, test, methods=methods, ratios=sorted(set(DEFAULT_RATIOS) | {chosen}),
                    batch_size=batch_size, accelerator=accelerator, pad_token_id=model_pad_token_id(model))
    at_chosen = {r["method"]: r for r in records if r["requested_ratio"] == chosen}
    before, after = records[0]["base_accuracy"], at_chosen[method]["accuracy"]
    name = checkpoint_name(checkpoint)
    how = (f"ratio chosen by {method_label(method)} search on the validation split (largest ratio with loss <= "
           f"{100 * max_accuracy_loss:g} %p)" if ratio is None else f"fixed ratio {ratio}")
    summary = {
        "checkpoint": str(checkpoint), "method": method, "ratio": chosen, "selection": how,
        "states_before": sum(pruned.config.pruning["states_per_layer_before"]),
        "states_after": sum(pruned.config.pruning["states_per_layer_after"]),
        "parameters_before": model.num_parameters(), "parameters_after": pruned.num_parameters(),
        "test_accuracy_before": before, "test_accuracy_after": after, "test_samples": len(test),
        "validation_search": info,
        "baselines_at_ratio": {m: at_chosen[m]["accuracy"] for m in methods if m != method},
    }
    if accelerator.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        plot = plot_accuracy_vs_states(records, output_dir / "accuracy_vs_ratio.png", x="requested_ratio",
                                       title=f"{name}: digits test accuracy vs pruning ratio",
                                       mark=chosen, mark_label=f"chosen ratio ({100 * chosen:.1f} %)")
        write_records_json(records, output_dir / "sweep.json", {"model": name, "task": "digits", "split": "test"})
        evaluation = Evaluation(dataset_name="digits", dataset_type="digits", dataset_split="test",
                                protocol=f"{how}; accuracy on the digits test split ({len(test)} sequences)",
                                accuracy_before=before, accuracy_after=after)
        save_pruned(pruned, output_dir / "pruned_model", f"{name}-{method}-{round(100 * chosen)}",
                    evaluation=evaluation, plot=plot)
        summary["seconds"] = round(time.perf_counter() - start, 1)
        (output_dir / DEMO_MARKER).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    accelerator.wait_for_everyone()
    return summary
