"""Collect results/training/*/{metrics,run}.json into summary.json and a markdown table (summary.md)."""

import json
from pathlib import Path

HERE = Path(__file__).parent
rows = []
for run in sorted(p for p in HERE.iterdir() if (p / "metrics.json").exists()):
    metrics = json.loads((run / "metrics.json").read_text())
    record = json.loads((run / "run.json").read_text()) if (run / "run.json").exists() else {}
    args = metrics["arguments"]
    weights = run / "best" / "model.safetensors"
    rows.append({
        "run": run.name, "family": args["family"], "task": args["task"], "hidden_size": args["hidden_size"],
        "layers": args["num_hidden_layers"], "state_size": args["state_size"], "bidirectional": args["bidirectional"],
        "parameters": metrics.get("num_parameters"), "train_samples": metrics.get("num_train_samples"),
        "epochs_planned": args["epochs"], "epochs_completed": metrics["epochs_completed"],
        "finished": metrics.get("finished"), "best_epoch": metrics["best_epoch"],
        "best_validation_accuracy": metrics["best_validation_accuracy"],
        "validation_samples": metrics.get("num_validation_samples"),
        "test_accuracy": metrics.get("test_accuracy"), "test_8khz_accuracy": metrics.get("test_8khz_accuracy"),
        "seconds_per_step": round(sum(h["train_time_s"] for h in metrics["history"]) / max(1, sum(h["steps"] for h in metrics["history"])), 3),
        "wall_time_s": record.get("wall_time_s"), "exit_status": record.get("exit_status"),
        "command": record.get("command"), "weights_mb": round(weights.stat().st_size / 2**20, 2) if weights.exists() else None,
    })
(HERE / "summary.json").write_text(json.dumps(rows, indent=2) + "\n")


def pct(value):
    return "–" if value is None else f"{100 * value:.2f}"


lines = ["| run | params | train samples | epochs (done/planned) | best val % | test % | test 8 kHz % | s/step | wall s |",
         "|---|---:|---:|---|---:|---:|---:|---:|---:|"]
for r in rows:
    lines.append(f"| {r['run']} | {r['parameters']:,} | {r['train_samples']:,} | {r['epochs_completed']}/{r['epochs_planned']}"
                 f" | {pct(r['best_validation_accuracy'])} | {pct(r['test_accuracy'])} | {pct(r['test_8khz_accuracy'])}"
                 f" | {r['seconds_per_step']} | {r['wall_time_s'] if r['wall_time_s'] is not None else 'running'} |")
(HERE / "summary.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
