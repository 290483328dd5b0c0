"""The recovery comparison: one-shot vs one-shot + recovery fine-tune vs iterative pruning, per method and ratio,
with the training cost (optimiser steps, wall time) next to validation and test accuracy.

Each (method, ratio) is pruned from the same dense model three ways; one-shot + recovery and iterative get the same
total recovery budget (``recovery`` epochs/steps once, or split evenly over the ``iterative_steps`` steps). The dense
model fine-tuned with the same budget (``dense+recovery``, ratio 0) is the control: on a briefly trained model a
"recovered" pruned model can beat the dense one only because it trained longer. Records are appended to
``records.jsonl`` as they finish, so an interrupted run keeps what it measured.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..accelerator import get_accelerator
from ..collate import longest_sequence, model_pad_token_id
from ..evaluation import evaluate_accuracy
from ..pruning import LASTPruner
from ..recovery import RecoveryConfig, iterative_prune, recover, recovery_data, split_budget

VARIANTS = ("one-shot", "one-shot+recovery", "iterative")
DENSE_CONTROL = "dense+recovery"


def comparison_data(recovery: RecoveryConfig, max_test_samples: int | None = None):
    """The task's splits for the comparison: train / validation as :func:`hf_last.recovery.recovery_data` takes them
    (random subsets of ``recovery.max_train_samples`` / ``max_eval_samples``), test its first ``max_test_samples``
    (the sweeps' convention)."""
    data = recovery_data(recovery)
    if max_test_samples is not None:
        if max_test_samples < 1:
            raise ValueError(f"max_test_samples must be a positive integer, got {max_test_samples!r}")
        data["test"] = data["test"].select(range(min(max_test_samples, len(data["test"]))))
    return data


def protocol_ratio(records: list[dict], variant: str, method: str, max_accuracy_loss: float = 0.01) -> float:
    """The largest evaluated ratio at which ``variant`` of ``method`` loses less than ``max_accuracy_loss`` test
    accuracy (the Table-1 protocol on the evaluated grid); 0.0 when none does."""
    ok = [r["ratio"] for r in records if r["variant"] == variant and r["method"] == method
          and r["test_accuracy_loss"] < max_accuracy_loss]
    return max(ok, default=0.0)


def contiguous_protocol_ratio(records: list[dict], variant: str, method: str,
                              max_accuracy_loss: float = 0.01) -> float:
    """The largest evaluated ratio r such that ``variant`` of ``method`` loses less than ``max_accuracy_loss`` at r
    *and at every smaller evaluated ratio*: unlike :func:`protocol_ratio`, a lucky pass above a failing ratio (noise
    on small test splits) does not count. 0.0 when the smallest ratio fails."""
    rows = sorted((r for r in records if r["variant"] == variant and r["method"] == method), key=lambda r: r["ratio"])
    passed = 0.0
    for row in rows:
        if row["test_accuracy_loss"] >= max_accuracy_loss:
            break
        passed = row["ratio"]
    return passed


def compare_recovery(model, data, methods, ratios, recovery: RecoveryConfig, iterative_steps: int, output_dir=None,
                     batch_size: int = 128, accelerator=None, dense_control: bool = True,
                     final_share: float | None = None) -> list[dict]:
    """Records ``{method, ratio, variant, achieved_ratio, validation/test accuracy, test_accuracy_loss,
    optimizer_steps, recovery_wall_time_s}`` for every method × ratio × variant, and first (``dense_control``) the
    dense model fine-tuned with the full budget (method ``"dense"``, variant ``"dense+recovery"``, ratio 0); see
    the module docstring. ``final_share``: the iterative schedule's last step gets this fraction of the budget
    (:func:`hf_last.recovery.split_budget`; default: an even split)."""
    accelerator = get_accelerator(accelerator)
    pad = model_pad_token_id(model)
    horizon = longest_sequence(data["validation"])

    def accuracy(m, split):
        return evaluate_accuracy(m, data[split], batch_size, accelerator, pad_token_id=pad)["accuracy"]

    base = {"validation": accuracy(model, "validation"), "test": accuracy(model, "test")}
    per_step = split_budget(recovery, iterative_steps, final_share)
    records = []
    out = Path(output_dir) if output_dir is not None else None
    if out is not None and accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        (out / "records.jsonl").write_text("")

    def add(record):
        records.append(record)
        if out is not None and accelerator.is_main_process:
            with open(out / "records.jsonl", "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
        test = record["test_accuracy"]
        accelerator.print(f"{record['method']:>18} r={record['ratio']:.2f} {record['variant']:>18}: test "
                          f"{100 * test:.2f} % (loss {100 * record['test_accuracy_loss']:+.2f} %p), "
                          f"{record['optimizer_steps']} steps, {record['recovery_wall_time_s']:.1f} s", flush=True)

    def measured(pruned, method, ratio, variant, steps, seconds, achieved):
        test = accuracy(pruned, "test")
        return {"method": method, "ratio": ratio, "variant": variant, "achieved_ratio": achieved,
                "validation_accuracy": accuracy(pruned, "validation"), "test_accuracy": test,
                "base_validation_accuracy": base["validation"], "base_test_accuracy": base["test"],
                "test_accuracy_loss": base["test"] - test, "optimizer_steps": steps, "recovery_wall_time_s": seconds,
                "iterative_steps": iterative_steps if variant == "iterative" else None}

    if dense_control:
        tuned, report = recover(model, recovery, data=data, accelerator=accelerator)
        add(measured(tuned, "dense", 0.0, DENSE_CONTROL, report["optimizer_steps"], report["wall_time_s"], 0.0))
    for ratio in ratios:
        for method in methods:
            start = time.perf_counter()
            pruner = LASTPruner(model, method=method).resolve_horizon(horizon)
            one_shot = pruner.prune(ratio)
            variants = {"one-shot": (one_shot, 0, time.perf_counter() - start)}
            recovered, report = recover(one_shot, recovery, data=data, accelerator=accelerator)
            variants["one-shot+recovery"] = (recovered, report["optimizer_steps"], report["wall_time_s"])
            result = iterative_prune(model, ratio, iterative_steps, per_step, method=method, data=data,
                                     accelerator=accelerator)
            schedule = result.model.config.pruning["schedule"]
            variants["iterative"] = (result.model, schedule["optimizer_steps"], schedule["wall_time_s"])
            for variant, (pruned, steps, seconds) in variants.items():
                add(measured(pruned, method, ratio, variant, steps, seconds, pruned.config.pruning["achieved_ratio"]))
    if out is not None and accelerator.is_main_process:
        write_comparison(records, methods, out)
    return records


def summary_markdown(records: list[dict], methods) -> str:
    """Test accuracy loss (%p) and recovery cost per method, ratio and variant, and each variant's protocol ratio;
    then the dense control's line when ``records`` hold one."""
    ratios = sorted({r["ratio"] for r in records if r["variant"] != DENSE_CONTROL})
    lines = ["| method | variant | " + " | ".join(f"{100 * r:g} %" for r in ratios)
             + " | protocol ratio | every smaller ratio passes too | steps |",
             "|---|---|" + "---|" * (len(ratios) + 3)]
    for method in methods:
        for variant in VARIANTS:
            rows = {r["ratio"]: r for r in records if r["method"] == method and r["variant"] == variant}
            if not rows:
                continue
            cells = [f"{100 * rows[r]['test_accuracy_loss']:.2f}" if r in rows else "" for r in ratios]
            steps = sorted({rows[r]["optimizer_steps"] for r in rows})
            lines.append(f"| {method} | {variant} | " + " | ".join(cells)
                         + f" | {100 * protocol_ratio(records, variant, method):g} % "
                         f"| {100 * contiguous_protocol_ratio(records, variant, method):g} % | {'/'.join(map(str, steps))} |")
    for control in (r for r in records if r["variant"] == DENSE_CONTROL):
        lines += ["", f"Control: the dense model fine-tuned with the same budget ({control['optimizer_steps']} steps) "
                      f"reaches {100 * control['test_accuracy']:.2f} % test "
                      f"({100 * (control['test_accuracy'] - control['base_test_accuracy']):+.2f} "
                      f"%p over the dense model's {100 * control['base_test_accuracy']:.2f} %): a negative loss above "
                      "that much is the extra training, not the pruning."]
    return "\n".join(lines) + "\n"


def write_comparison(records: list[dict], methods, folder: Path) -> None:
    """``records.json``, ``summary.md`` and (with matplotlib) ``accuracy_vs_ratio.png`` into ``folder``."""
    folder = Path(folder)
    (folder / "records.json").write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")
    (folder / "summary.md").write_text("Test accuracy loss (%p) vs the dense model; protocol ratio = the largest "
                                       "evaluated ratio with a loss < 1 %p (then: the largest with every smaller "
                                       "evaluated ratio also < 1 %p).\n\n" + summary_markdown(records, methods),
                                       encoding="utf-8")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    figure, axes = plt.subplots(1, len(methods), figsize=(4 * len(methods), 3.4), sharey=True, squeeze=False)
    for axis, method in zip(axes[0], methods):
        for variant in VARIANTS:
            rows = sorted((r for r in records if r["method"] == method and r["variant"] == variant),
                          key=lambda r: r["ratio"])
            axis.plot([100 * r["achieved_ratio"] for r in rows], [100 * r["test_accuracy"] for r in rows],
                      marker="o", label=variant)
        axis.axhline(100 * records[0]["base_test_accuracy"], color="black", linewidth=0.8, label="dense")
        for control in (r for r in records if r["variant"] == DENSE_CONTROL):
            axis.axhline(100 * control["test_accuracy"], color="gray", linestyle="--", linewidth=0.8,
                         label="dense + same fine-tune")
        axis.set_title(method)
        axis.set_xlabel("states removed (%)")
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy (%)")
    axes[0][-1].legend()
    figure.tight_layout()
    figure.savefig(folder / "accuracy_vs_ratio.png", dpi=120)
    plt.close(figure)
