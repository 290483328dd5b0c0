"""Sweep reports: records to JSON/CSV, the paper's protocol and Table-1 summary, and the paper's figures.

A *record* is one (method, ratio) result of :func:`hf_last.evaluation.sweep`: ``method`` (a spec such as
``last`` or ``last@auto``, see :func:`hf_last.pruning.criteria.parse_method`), ``horizon``, ``requested_ratio``,
``achieved_ratio``, ``kept_states``, ``total_states``, ``states_per_layer``, ``accuracy``, ``base_accuracy``,
``accuracy_loss`` (fractions; loss = base − pruned).

Protocol (Gwak et al., NeurIPS 2024, Table 1): for each task take LAST's largest swept ratio r > 0 whose
accuracy loss is strictly below 1 %p (``loss < 0.01``); a task with no such r is *non-compressible* (r = 0,
loss 0 for every method). The baselines are read at that same r. Across tasks, report per method the average
ratio and average loss (%p), and in parentheses the averages over compressible tasks only.

Everything here is a pure function of records except the writers and plots (matplotlib, Agg backend, PNG).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from .pruning import LASTPruner
from .pruning.criteria import parse_method

MAX_ACCURACY_LOSS = 0.01  # 1 percentage point, as a fraction
# A loss equal to the threshold must not qualify ("strictly below"), but base − pruned of two fractions k/n is
# computed with rounding error (0.98 − 0.97 = 0.01000000000000001 or 0.00999999999999999). Losses within
# this distance of the threshold count as equal to it.
_EPS = 1e-9

METHOD_LABELS = {
    "random": "Random",
    "uniform_magnitude": "Uniform magnitude",
    "global_magnitude": "Global magnitude",
    "lamp": "LAMP",
    "uniform_hinf": "Uniform H∞",
    "global_hinf": "Global H∞",
    "last": "LAST",
    "last_h2": "LAST (H2)",
}
# Table order of the paper (Table 1/6), then anything else.
METHOD_ORDER = ["random", "uniform_magnitude", "global_magnitude", "lamp", "uniform_hinf", "global_hinf", "last",
                "last_h2"]

# The paper's published S5 numbers (Table 1/6, averages over its 10 tasks; in parentheses over the 9
# compressible tasks), copied from shared/notes/LAST_method.md. (avg ratio %, avg accuracy loss %p) pairs.
PAPER_S5_TABLE1 = {
    "random": {"ratio": (33.00, 36.67), "loss": (29.53, 32.82)},
    "uniform_magnitude": {"ratio": (33.00, 36.67), "loss": (22.03, 24.48)},
    "global_magnitude": {"ratio": (33.00, 36.67), "loss": (17.49, 19.43)},
    "lamp": {"ratio": (33.00, 36.67), "loss": (18.07, 20.07)},
    "uniform_hinf": {"ratio": (33.00, 36.67), "loss": (4.32, 4.80)},
    "global_hinf": {"ratio": (33.00, 36.67), "loss": (7.51, 8.35)},
    "last": {"ratio": (33.00, 36.67), "loss": (0.52, 0.58)},
}
PAPER_SOURCE = ("Gwak et al., \"Layer-Adaptive State Pruning for Deep State Space Models\", NeurIPS 2024 "
                "(arXiv 2411.02824), Table 1/6: S5 on sMNIST, psMNIST, sCIFAR, the six LRA tasks and Speech Commands")

RECORD_FIELDS = ["method", "horizon", "requested_ratio", "achieved_ratio", "kept_states", "total_states", "states_per_layer",
                 "accuracy", "base_accuracy", "accuracy_loss"]


def method_label(method: str) -> str:
    """Display name of a method spec: ``"last"`` → "LAST", ``"last@auto"`` → "LAST, data horizon",
    ``"last@64"`` → "LAST, horizon 64"."""
    name, horizon = parse_method(method)
    label = METHOD_LABELS.get(name, name)
    if horizon is None:
        return label
    return f"{label}, data horizon" if horizon == "auto" else f"{label}, horizon {horizon}"


def ordered_methods(methods) -> list[str]:
    """The paper's table order; a method's horizon variants (``name@…``) right after it."""
    methods = list(dict.fromkeys(methods))

    def key(method):
        name, horizon = parse_method(method)
        position = METHOD_ORDER.index(name) if name in METHOD_ORDER else len(METHOD_ORDER)
        return position, name, horizon is not None, str(horizon)

    return sorted(methods, key=key)


def _same_ratio(a: float, b: float) -> bool:
    return abs(float(a) - float(b)) < 1e-6


# ---- writers / readers ------------------------------------------------------------------------------------
def write_records_json(records: list[dict], path, metadata: dict | None = None) -> Path:
    """``{"metadata": {...}, "records": [...]}`` as indented JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"metadata": metadata or {}, "records": list(records)}, indent=2) + "\n",
                    encoding="utf-8")
    return path


def read_sweep_json(path) -> tuple[list[dict], dict]:
    """``(records, metadata)`` of a file written by :func:`write_records_json` (a bare list of records: no metadata)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, dict):
        return data["records"], data.get("metadata", {})
    return data, {}


def read_records_json(path) -> list[dict]:
    """The records of a file written by :func:`write_records_json`."""
    return read_sweep_json(path)[0]


def write_records_csv(records: list[dict], path) -> Path:
    """One row per record; ``states_per_layer`` as a space-separated list; extra keys appended as columns."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = RECORD_FIELDS + sorted({k for r in records for k in r} - set(RECORD_FIELDS))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for record in records:
            row = dict(record)
            if isinstance(row.get("states_per_layer"), (list, tuple)):
                row["states_per_layer"] = " ".join(str(int(n)) for n in row["states_per_layer"])
            writer.writerow(row)
    return path


# ---- protocol ---------------------------------------------------------------------------------------------
def records_for(records: list[dict], method: str) -> list[dict]:
    """The records of ``method`` sorted by requested ratio."""
    return sorted((r for r in records if r["method"] == method), key=lambda r: r["requested_ratio"])


def record_at(records: list[dict], method: str, ratio: float) -> dict | None:
    for record in records:
        if record["method"] == method and _same_ratio(record["requested_ratio"], ratio):
            return record
    return None


def protocol_ratio(records: list[dict], method: str = "last", max_accuracy_loss: float = MAX_ACCURACY_LOSS) -> float:
    """The largest swept ratio r > 0 of ``method`` with accuracy loss strictly below ``max_accuracy_loss``;
    0.0 when there is none (a non-compressible task).

    The paper's wording ("the largest r whose loss stays below 1 %p") is taken literally: the largest
    qualifying r, even if some smaller r was above the threshold (rare: loss is nearly monotone in r).
    """
    own = records_for(records, method)
    if not own:
        raise ValueError(f"no records for method {method!r}; methods present: {sorted({r['method'] for r in records})}")
    ok = [r["requested_ratio"] for r in own
          if r["requested_ratio"] > 0 and r["accuracy_loss"] < max_accuracy_loss - _EPS]
    return float(max(ok)) if ok else 0.0


def protocol(records: list[dict], reference: str = "last", max_accuracy_loss: float = MAX_ACCURACY_LOSS,
             methods=None) -> dict:
    """One task's Table-1 row: ``reference``'s protocol ratio and every method's loss at that ratio.

    Returns ``{"ratio", "compressible", "base_accuracy", "methods": {method: {"ratio", "achieved_ratio",
    "accuracy", "accuracy_loss"}}}``. At ratio 0 (non-compressible) every method is the dense model: loss 0.
    """
    ratio = protocol_ratio(records, reference, max_accuracy_loss)
    methods = ordered_methods(methods if methods is not None else [r["method"] for r in records])
    base = records_for(records, reference)[0]["base_accuracy"]
    rows = {}
    for method in methods:
        record = record_at(records, method, ratio)
        if record is None and ratio == 0:
            rows[method] = {"ratio": 0.0, "achieved_ratio": 0.0, "accuracy": base, "accuracy_loss": 0.0}
        elif record is None:
            raise ValueError(f"method {method!r} was not evaluated at ratio {ratio} (the protocol ratio of "
                             f"{reference!r}); sweep every method over the same ratios")
        else:
            rows[method] = {"ratio": ratio, "achieved_ratio": float(record["achieved_ratio"]),
                            "accuracy": float(record["accuracy"]), "accuracy_loss": float(record["accuracy_loss"])}
    return {"ratio": ratio, "compressible": ratio > 0, "base_accuracy": float(base), "reference": reference,
            "max_accuracy_loss": max_accuracy_loss, "methods": rows}


def summarize(tasks: dict[str, list[dict]], reference: str = "last", max_accuracy_loss: float = MAX_ACCURACY_LOSS,
              methods=None) -> dict:
    """Table 1 across tasks (``{task: records}``).

    Returns ``{"tasks": {task: protocol(...)}, "methods": {method: {"avg_ratio", "avg_loss",
    "avg_ratio_compressible", "avg_loss_compressible"}}, "num_tasks", "num_compressible"}``; ratios and
    losses as fractions; compressible-only averages are None when no task is compressible.
    """
    if not tasks:
        raise ValueError("summarize() needs at least one task")
    per_task = {name: protocol(records, reference, max_accuracy_loss, methods) for name, records in tasks.items()}
    all_methods = ordered_methods(m for row in per_task.values() for m in row["methods"])
    compressible = [name for name, row in per_task.items() if row["compressible"]]

    def mean(values):
        values = list(values)
        return sum(values) / len(values) if values else None

    summary = {}
    for method in all_methods:
        rows = {name: row["methods"][method] for name, row in per_task.items() if method in row["methods"]}
        summary[method] = {
            "avg_ratio": mean(r["ratio"] for r in rows.values()),
            "avg_loss": mean(r["accuracy_loss"] for r in rows.values()),
            "avg_ratio_compressible": mean(rows[n]["ratio"] for n in compressible if n in rows),
            "avg_loss_compressible": mean(rows[n]["accuracy_loss"] for n in compressible if n in rows),
            "num_tasks": len(rows),
        }
    return {"tasks": per_task, "methods": summary, "num_tasks": len(per_task), "num_compressible": len(compressible),
            "reference": reference, "max_accuracy_loss": max_accuracy_loss}


def _pct(value, digits: int = 2) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}"


def _with_compressible(value, compressible) -> str:
    return f"{_pct(value)} ({_pct(compressible)})"


def summary_markdown(summary: dict, title: str | None = "Accuracy loss at LAST's protocol ratio") -> str:
    """A Table-1-style markdown table plus one row per task (ratio, base accuracy, loss of every method)."""
    methods = list(summary["methods"])
    reference = method_label(summary["reference"])
    threshold = 100 * summary["max_accuracy_loss"]
    lines = []
    if title:
        lines += [f"## {title}", ""]
    lines += [
        f"Protocol: per task, the largest swept ratio r > 0 at which {reference} loses less than {threshold:g} %p "
        f"accuracy (r = 0: non-compressible); every method is evaluated at that r. Averages over "
        f"{summary['num_tasks']} task(s); in parentheses over the {summary['num_compressible']} compressible one(s).",
        "",
        "| method | avg ratio % | avg accuracy loss %p |",
        "|---|---|---|",
    ]
    for method in methods:
        m = summary["methods"][method]
        name = f"**{method_label(method)}**" if method == summary["reference"] else method_label(method)
        lines.append(f"| {name} | {_with_compressible(m['avg_ratio'], m['avg_ratio_compressible'])} | "
                     f"{_with_compressible(m['avg_loss'], m['avg_loss_compressible'])} |")
    lines += ["", "Per task (accuracy loss %p at the task's ratio):", "",
              "| task | base accuracy % | ratio % | " + " | ".join(method_label(m) for m in methods) + " |",
              "|---|---|---|" + "---|" * len(methods)]
    for name, row in summary["tasks"].items():
        ratio = _pct(row["ratio"], 0) + ("" if row["compressible"] else " (non-compressible)")
        losses = [_pct(row["methods"][m]["accuracy_loss"]) if m in row["methods"] else "–" for m in methods]
        lines.append(f"| {name} | {_pct(row['base_accuracy'])} | {ratio} | " + " | ".join(losses) + " |")
    return "\n".join(lines) + "\n"


def paper_comparison_markdown(summary: dict, label: str = "ours") -> str:
    """Our averages next to the paper's published S5 numbers (clearly labelled; not comparable task for task)."""
    methods = ordered_methods(list(PAPER_S5_TABLE1) + list(summary["methods"]))
    lines = [
        "## Comparison with the paper (S5, Table 1)",
        "",
        f"Columns marked *paper* are the published S5 numbers of {PAPER_SOURCE}; columns marked *{label}* are this "
        f"run's {summary['num_tasks']} task(s). The task sets differ, so compare the ranking of methods, not the "
        "values. Format: average (compressible tasks only).",
        "",
        f"| method | paper: avg ratio % | paper: avg loss %p | {label}: avg ratio % | {label}: avg loss %p |",
        "|---|---|---|---|---|",
    ]
    for method in methods:
        paper = PAPER_S5_TABLE1.get(method)
        ours = summary["methods"].get(method)
        paper_cells = (["{:.2f} ({:.2f})".format(*paper["ratio"]), "{:.2f} ({:.2f})".format(*paper["loss"])]
                       if paper else ["not reported", "not reported"])
        our_cells = ([_with_compressible(ours["avg_ratio"], ours["avg_ratio_compressible"]),
                      _with_compressible(ours["avg_loss"], ours["avg_loss_compressible"])]
                     if ours else ["not run", "not run"])
        lines.append(f"| {method_label(method)} | " + " | ".join(paper_cells + our_cells) + " |")
    return "\n".join(lines) + "\n"


def loss_by_ratio_markdown(tasks: dict[str, list[dict]], ratios=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6)) -> str:
    """Supplement to the protocol table: every method's accuracy loss (%p) averaged over tasks at fixed
    ratios. Shows the methods' ranking also where LAST's protocol ratio is 0 (non-compressible tasks)."""
    methods = ordered_methods({r["method"] for records in tasks.values() for r in records})
    lines = ["## Accuracy loss at fixed ratios (supplement)", "",
             f"Average over {len(tasks)} task(s) of base − pruned accuracy, %p; lower is better.", "",
             "| method | " + " | ".join(f"r = {_pct(r, 0)} %" for r in ratios) + " |",
             "|---|" + "---|" * len(ratios)]
    for method in methods:
        cells = []
        for ratio in ratios:
            found = [record_at(records, method, ratio) for records in tasks.values()]
            losses = [r["accuracy_loss"] for r in found if r is not None]
            cells.append(_pct(sum(losses) / len(losses)) if len(losses) == len(tasks) else "–")
        lines.append(f"| {method_label(method)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def own_ratio_markdown(tasks: dict[str, list[dict]], max_accuracy_loss: float = MAX_ACCURACY_LOSS) -> str:
    """Every method's *own* protocol ratio per task (its largest swept ratio with loss below the threshold):
    which method compresses each task furthest, LAST's forms and the baselines side by side."""
    methods = ordered_methods({r["method"] for records in tasks.values() for r in records})
    lines = ["## Each method's own protocol ratio", "",
             f"Per task, the largest swept ratio (%) at which the method loses less than {_pct(max_accuracy_loss, 0)} %p; "
             "the best of each row in bold.", "",
             "| task | " + " | ".join(method_label(m) for m in methods) + " |",
             "|---|" + "---|" * len(methods)]
    for task, records in tasks.items():
        present = {r["method"] for r in records}
        ratios = {m: protocol_ratio(records, m, max_accuracy_loss) for m in methods if m in present}
        best = max(ratios.values())
        cells = [("–" if m not in ratios else f"**{_pct(ratios[m], 0)}**" if ratios[m] == best
                  else _pct(ratios[m], 0)) for m in methods]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


HORIZON_REFERENCE = "last@auto"  # LAST at the data's horizon


def horizon_protocol_markdown(tasks: dict[str, list[dict]], reference: str,
                              max_accuracy_loss: float = MAX_ACCURACY_LOSS, title: str | None = None) -> str:
    """The protocol table again, led by LAST at the data's horizon: "\\n" + markdown when every task was swept
    with ``last@auto`` and ``reference`` is another method, else ""."""
    swept = all(any(r["method"] == HORIZON_REFERENCE for r in records) for records in tasks.values())
    if reference == HORIZON_REFERENCE or not swept:
        return ""
    title = title or f"Accuracy loss at {method_label(HORIZON_REFERENCE)}'s protocol ratio"
    return "\n" + summary_markdown(summarize(tasks, HORIZON_REFERENCE, max_accuracy_loss), title=title)


def write_summary(tasks: dict[str, list[dict]], path, reference: str = "last",
                  max_accuracy_loss: float = MAX_ACCURACY_LOSS, compare_with_paper: bool = True) -> dict:
    """Write the summary markdown (and the paper comparison) to ``path``; ``path`` with ``.json`` holds the data.

    When every task was also swept with ``last@auto`` (LAST at the data's horizon), the markdown adds the same
    protocol led by that form and each method's own protocol ratio per task."""
    summary = summarize(tasks, reference, max_accuracy_loss)
    text = summary_markdown(summary)
    horizon_section = horizon_protocol_markdown(tasks, reference, max_accuracy_loss)
    if horizon_section:
        text += horizon_section + "\n" + own_ratio_markdown(tasks, max_accuracy_loss)
    text += "\n" + loss_by_ratio_markdown(tasks)
    if compare_with_paper:
        text += "\n" + paper_comparison_markdown(summary)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def summarize_sweep_files(paths, output, reference: str = "last",
                          max_accuracy_loss: float = MAX_ACCURACY_LOSS) -> dict:
    """Table 1 across tasks from several ``sweep.json`` files (task names from their metadata, else the
    parent folder's name); writes ``output`` (markdown, with the paper comparison) and ``output``.json."""
    tasks = {}
    for path in paths:
        records, meta = read_sweep_json(path)
        name = meta.get("task", Path(path).parent.name)
        if meta.get("model"):
            name = f"{name} ({meta['model']})"
        if name in tasks:
            raise ValueError(f"two sweep files describe {name!r}; pass each task once")
        tasks[name] = records
    return write_summary(tasks, output, reference, max_accuracy_loss)


# ---- plots ------------------------------------------------------------------------------------------------
def _save_figure(fig, path) -> Path:
    """Lay out, write (creating the folder) and close a figure; returns the PNG's path."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_accuracy_vs_states(records: list[dict], path, title: str | None = None, methods=None,
                            x: str = "kept_states", mark=None, mark_label: str | None = None) -> Path:
    """Accuracy (%) versus remaining state dimension (``x="kept_states"``) or ratio (``x="requested_ratio"``),
    one line per method, the dense accuracy as a dashed line; ``mark`` (an x value, ratios as fractions) draws
    a vertical line, e.g. at the chosen ratio."""
    plt = _pyplot()
    methods = ordered_methods(methods if methods is not None else [r["method"] for r in records])
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    colors = plt.get_cmap("tab20").colors if len(methods) > 10 else plt.get_cmap("tab10").colors
    for method in methods:
        own = records_for(records, method)
        if not own:
            continue
        xs = [100 * r[x] if x.endswith("ratio") else r[x] for r in own]
        name, horizon = parse_method(method)
        style = dict(linewidth=2.2, zorder=3) if name == "last" else dict(linewidth=1.2, alpha=0.85)
        if horizon is not None:  # a horizon variant: dashed, so it pairs visibly with its paper form
            style["linestyle"] = "--"
        ax.plot(xs, [100 * r["accuracy"] for r in own], marker="o", markersize=3, label=method_label(method),
                color=colors[methods.index(method) % len(colors)], **style)
    if records:
        ax.axhline(100 * records[0]["base_accuracy"], color="grey", linestyle="--", linewidth=1, label="dense")
    if mark is not None:
        ax.axvline(100 * mark if x.endswith("ratio") else mark, color="black", linestyle=":", linewidth=1,
                   label=mark_label)
    if x == "kept_states":
        ax.set_xlabel("remaining state dimension (states kept, all layers)")
        ax.invert_xaxis()  # more pruning to the right, as in the paper
    else:
        ax.set_xlabel("pruning ratio (% of states removed)")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    if title:
        ax.set_title(title, fontsize=9)
    return _save_figure(fig, path)


def plot_states_per_layer(records: list[dict], path, method: str = "last", ratios=(0.2, 0.4, 0.6, 0.8),
                          title: str | None = None) -> Path:
    """Remaining states per layer at several ratios (grouped bars, one group per layer; dense in grey)."""
    plt = _pyplot()
    own = records_for(records, method)
    if not own:
        raise ValueError(f"no records for method {method!r}")
    chosen = [r for ratio in ratios for r in own if _same_ratio(r["requested_ratio"], ratio)]
    if not chosen:
        chosen = own
    dense = max(own, key=lambda r: sum(r["states_per_layer"]))["states_per_layer"]
    dense_record = record_at(own, method, 0.0)
    if dense_record is not None:
        dense = dense_record["states_per_layer"]
    num_layers = len(dense)
    series = [("dense", dense)] + [(f"{100 * r['requested_ratio']:.0f} %", r["states_per_layer"]) for r in chosen]
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * num_layers + 2), 3.6), dpi=120)
    cmap = plt.get_cmap("viridis")
    for i, (label, counts) in enumerate(series):
        color = "lightgrey" if i == 0 else cmap((i - 1) / max(1, len(series) - 2))
        ax.bar([layer + (i - (len(series) - 1) / 2) * width for layer in range(num_layers)], counts, width,
               label=label, color=color, edgecolor="black", linewidth=0.3)
    ax.set_xticks(range(num_layers))
    ax.set_xticklabels([str(i) for i in range(num_layers)])
    ax.set_xlabel("layer")
    ax.set_ylabel("remaining states")
    ax.legend(title=f"{method_label(method)} ratio", fontsize=7, title_fontsize=7, ncol=2)
    ax.grid(axis="y", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=9)
    return _save_figure(fig, path)


def layer_poles(model, layer: int = 0):
    """Discrete poles λ̄ of prunable layer ``layer`` (numpy complex array; S4D: every channel's modes) and the
    number of states each stored mode stands for."""
    layers = LASTPruner.prunable_layers(model)
    if not 0 <= layer < len(layers):
        raise IndexError(f"layer {layer} out of range: the model has {len(layers)} prunable layers")
    step_rescale = float(getattr(getattr(model, "config", None), "step_rescale", 1.0) or 1.0)
    sub = layers[layer].modal_subsystems(step_rescale)
    return sub.Lambda_bar.detach().cpu().numpy(), sub.states_per_mode


def plot_poles(dense_model, pruned_model, path, layer: int = 0, title: str | None = None,
               conjugates: bool = True) -> Path:
    """Poles λ̄ of one layer before (all) and after pruning (kept) in the complex plane, with the unit circle.

    With conjugate symmetry each stored mode stands for a pair; ``conjugates=True`` also draws λ̄*."""
    import numpy as np

    plt = _pyplot()
    before, spm = layer_poles(dense_model, layer)
    after, _ = layer_poles(pruned_model, layer)

    def mirrored(poles):
        return np.concatenate([poles, poles.conj()]) if conjugates and spm == 2 else poles

    before, after = mirrored(before), mirrored(after)
    # the whole unit disc, plus a panel zoomed on the poles when they crowd together (often near z = 1)
    spread = max(np.ptp(before.real), np.ptp(before.imag), 1e-3)
    panels = (False, True) if spread < 0.8 else (False,)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels) + 0.2, 4.6), dpi=120, squeeze=False)
    theta = np.linspace(0, 2 * np.pi, 4000)
    pad = 0.05 * spread
    zoom = (before.real.min() - pad, before.real.max() + pad, before.imag.min() - pad, before.imag.max() + pad)
    for ax, zoomed in zip(axes[0], panels):
        ax.plot(np.cos(theta), np.sin(theta), color="black", linewidth=0.8, label="unit circle")
        ax.scatter(before.real, before.imag, s=22, facecolors="none", edgecolors="tab:red", linewidths=0.8,
                   label=f"before ({len(before)} poles)")
        ax.scatter(after.real, after.imag, s=9, color="tab:blue", label=f"after ({len(after)} poles)")
        ax.set_xlabel("Re λ̄")
        ax.set_ylabel("Im λ̄")
        ax.grid(alpha=0.3)
        if zoomed:
            ax.set_xlim(zoom[0], zoom[1])
            ax.set_ylim(zoom[2], zoom[3])
            ax.set_title("zoom on the poles", fontsize=8)
        else:
            ax.set_aspect("equal")
            ax.legend(fontsize=7, loc="lower left")
    fig.suptitle(title or f"layer {layer}: discrete poles before / after pruning", fontsize=9)
    return _save_figure(fig, path)

