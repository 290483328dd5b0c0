"""The demo driver (``hf-last demo``): the shipped digits checkpoint pruned with LAST at the data's horizon (ratio
chosen on validation), compared on test with LAST as published and the strongest of the paper's baselines, and
written out as a pruned model with its card and a three-curve accuracy-vs-ratio plot."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from ..accelerator import get_accelerator
from ..collate import longest_sequence, model_pad_token_id
from ..data import load_split
from ..evaluation import DEFAULT_RATIOS, sweep
from ..hub import Evaluation
from ..loading import checkpoint_name, load_model
from ..pruning.criteria import method_spec
from ..reporting import MAX_ACCURACY_LOSS, method_label, plot_accuracy_vs_states, protocol_ratio, write_records_json
from .errors import ExperimentSetupError
from .prune import prune_with_search, save_pruned

DEMO_MARKER = "hf_last_demo.json"
# The paper's baselines (Table 6), all at the paper's infinite horizon; the demo shows the strongest on validation.
DEMO_BASELINES = ("random", "uniform_magnitude", "global_magnitude", "lamp", "uniform_hinf", "global_hinf")
LAST_FORMS = ("last", "last@auto")  # LAST as published and LAST at the data's horizon


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


def strongest_baseline(records: list[dict], baselines=DEMO_BASELINES,
                       max_accuracy_loss: float = MAX_ACCURACY_LOSS) -> str:
    """The baseline that prunes furthest within ``max_accuracy_loss`` (its own protocol ratio) in ``records``;
    ties go to the higher mean accuracy over the swept ratios."""
    def strength(method):
        own = [r for r in records if r["method"] == method]
        return protocol_ratio(records, method, max_accuracy_loss), sum(r["accuracy"] for r in own) / len(own)

    return max(baselines, key=strength)


def run_demo(checkpoint, output_dir, *, ratio: float | None = None, max_accuracy_loss: float = MAX_ACCURACY_LOSS,
             horizon: int | str | None = "auto", baselines=DEMO_BASELINES, batch_size: int = 512,
             overwrite: bool = False, accelerator=None, progress: Callable[[str], None] | None = None) -> dict:
    """The README's main job on digits, in four steps reported through ``progress`` (e.g. ``print``):

    1. sweep LAST (paper), LAST at the data's horizon and the paper's baselines over ratios 0, 0.1, …, 1 on the
       validation split, and pick the strongest baseline there;
    2. search the largest ratio within ``max_accuracy_loss`` on validation with LAST at ``horizon`` (``"auto"``:
       the data's sequence length; None: the paper's score), or take ``ratio``;
    3. evaluate the three (both LAST forms and the strongest baseline) on the test split at every ratio and at
       the chosen one;
    4. write the pruned model + card + plan, the test sweep, the validation sweep and the three-curve plot.

    Returns the summary written to ``output_dir/hf_last_demo.json`` (``seconds`` on the main process only)."""
    report = progress or (lambda message: None)
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
    pad = model_pad_token_id(model)
    method = method_spec("last", horizon)
    name = checkpoint_name(checkpoint)

    compared = list(LAST_FORMS) + [b for b in baselines if b not in LAST_FORMS]
    report(f"[1/4] {name}: sweeping {len(compared)} methods x {len(DEFAULT_RATIOS)} ratios on the validation split "
           f"({len(validation)} sequences of {longest_sequence(validation)} steps)")
    validation_records = sweep(model, validation, methods=compared, ratios=DEFAULT_RATIOS, batch_size=batch_size,
                               accelerator=accelerator, pad_token_id=pad)
    baseline = strongest_baseline(validation_records, baselines, max_accuracy_loss)
    report(f"      strongest baseline on validation: {method_label(baseline)}")

    step = (f"searching the largest ratio within {100 * max_accuracy_loss:g} %p" if ratio is None
            else f"pruning at ratio {ratio}")
    report(f"[2/4] {step} with {method_label(method)} on the validation split")
    pruned, info = prune_with_search(model, validation, method=method, ratio=ratio,
                                     max_accuracy_loss=max_accuracy_loss, batch_size=batch_size,
                                     accelerator=accelerator)
    chosen = float(pruned.config.pruning["requested_ratio"])
    shown = list(dict.fromkeys([method, *LAST_FORMS, baseline]))
    report(f"[3/4] evaluating {'; '.join(method_label(m) for m in shown)} on the test split ({len(test)} sequences)")
    records = sweep(model, test, methods=shown, ratios=sorted(set(DEFAULT_RATIOS) | {chosen}), batch_size=batch_size,
                    accelerator=accelerator, pad_token_id=pad)
    at_chosen = {r["method"]: r for r in records if r["requested_ratio"] == chosen}
    before, after = records[0]["base_accuracy"], at_chosen[method]["accuracy"]
    score_horizon = pruned.config.pruning["horizon"]
    how = (f"ratio chosen by {method_label(method)} search on the validation split (largest ratio with loss <= "
           f"{100 * max_accuracy_loss:g} %p)" if ratio is None else f"fixed ratio {ratio}")
    summary = {
        "checkpoint": str(checkpoint), "method": method, "horizon": score_horizon, "ratio": chosen, "selection": how,
        "states_before": sum(pruned.config.pruning["states_per_layer_before"]),
        "states_after": sum(pruned.config.pruning["states_per_layer_after"]),
        "parameters_before": model.num_parameters(), "parameters_after": pruned.num_parameters(),
        "test_accuracy_before": before, "test_accuracy_after": after, "test_samples": len(test),
        "validation_search": info, "strongest_baseline": baseline,
        "others_at_ratio": {m: at_chosen[m]["accuracy"] for m in shown if m != method},
    }
    if accelerator.is_main_process:
        report(f"[4/4] writing the pruned model, its card and the plots to {output_dir}")
        output_dir.mkdir(parents=True, exist_ok=True)
        plot = plot_accuracy_vs_states(records, output_dir / "accuracy_vs_ratio.png", x="requested_ratio",
                                       title=f"{name}: digits test accuracy vs pruning ratio",
                                       mark=chosen, mark_label=f"chosen on validation ({100 * chosen:.1f} %)")
        write_records_json(records, output_dir / "sweep.json", {"model": name, "task": "digits", "split": "test"})
        write_records_json(validation_records, output_dir / "validation_sweep.json",
                           {"model": name, "task": "digits", "split": "validation"})
        evaluation = Evaluation(dataset_name="digits", dataset_type="digits", dataset_split="test",
                                protocol=f"{how}; accuracy on the digits test split ({len(test)} sequences)",
                                accuracy_before=before, accuracy_after=after)
        variant = "last" if score_horizon is None else f"last-h{score_horizon}"
        save_pruned(pruned, output_dir / "pruned_model", f"{name}-{variant}-{round(100 * chosen)}",
                    evaluation=evaluation, plot=plot)
        summary["seconds"] = round(time.perf_counter() - start, 1)
        (output_dir / DEMO_MARKER).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    accelerator.wait_for_everyone()
    return summary
