"""Experiment drivers behind ``scripts/sweep.py``, ``scripts/prune.py`` and ``hf-last sweep`` / ``hf-last demo``.

Each driver takes a model, datasets and an ``accelerate.Accelerator`` and runs data-parallel: every process
evaluates a shard, all processes get the same numbers, and only the main process writes files or pushes.
Launch with ``torchrun --nproc_per_node N script.py ...`` or ``accelerate launch script.py ...`` (on CPU,
``accelerate launch --cpu --num_processes N`` starts only one process; use torchrun).

The ``add_*_arguments`` / ``*_main`` pairs are shared by the scripts and the CLI so both accept the same flags.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from .evaluation import DEFAULT_RATIOS, evaluate_accuracy, get_accelerator, sweep
from .reporting import (
    MAX_ACCURACY_LOSS,
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

FAMILIES = ("s5", "s4d")


# ---- models and data --------------------------------------------------------------------------------------
def default_checkpoint(family: str) -> Path:
    """The shipped digits checkpoint of ``family`` (``s5`` or ``s4d``)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; choose one of {FAMILIES}")
    try:
        from .default_models import default_model_path
    except ImportError as error:
        raise FileNotFoundError("this hf_last installation ships no default checkpoints "
                                "(hf_last.default_models is missing); pass a checkpoint path instead") from error
    path = Path(default_model_path(family))
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"the shipped {family} checkpoint is missing at {path}")
    return path


def load_model(model, revision: str | None = None):
    """A sequence classifier (or base model) from a local folder or Hub id, in eval mode."""
    from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification

    import hf_last  # noqa: F401  (registers the model types)
    from .models.checkpoint_files import check_checkpoint_folder

    check_checkpoint_folder(model)  # names the missing config.json (AutoConfig says 'Unrecognized model')
    config = AutoConfig.from_pretrained(str(model), revision=revision)
    auto = AutoModelForSequenceClassification
    if not any(a.endswith("ForSequenceClassification") for a in (config.architectures or [])):
        auto = AutoModel
    return auto.from_pretrained(str(model), revision=revision).eval()


def load_split(task: str, split: str = "test", **settings):
    """(dataset, forward kwargs) for ``split`` of ``task``; extra evaluation splits carry their own kwargs
    (e.g. speech ``test_8khz`` runs at ``step_rescale=2``)."""
    from .data import TASKS, load_task

    data = load_task(task, **settings)
    if split not in data:
        raise KeyError(f"task {task!r} has no split {split!r}; available: {sorted(data)}")
    return data[split], dict(TASKS[task].eval_splits.get(split, {}))


def checkpoint_name(path) -> str:
    """A readable name for a checkpoint: its folder, or the run folder above ``best``/``last``."""
    path = Path(path)
    return path.parent.name if path.name in ("best", "last") and path.parent.name else path.name


def pad_token_id(model) -> int:
    return getattr(getattr(model, "config", None), "pad_token_id", None) or 0


# ---- sweep ------------------------------------------------------------------------------------------------
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
    text += "\n" + paper_comparison_markdown(summary)
    paths["summary"] = output_dir / "summary.md"
    paths["summary"].write_text(text, encoding="utf-8")
    paths["summary_json"] = output_dir / "summary.json"
    paths["summary_json"].write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if model is not None and reference in ("last",):
        from .pruning import LASTPruner

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
                    pad_token_id=pad_token_id(model), progress=progress, **sweep_kwargs)
    meta = dict(metadata or {}, num_processes=accelerator.num_processes, num_samples=len(dataset),
                seconds=round(time.perf_counter() - start, 2))
    reference = "last" if any(r["method"] == "last" for r in records) else records[0]["method"]
    summary = protocol(records, reference=reference, max_accuracy_loss=max_accuracy_loss)
    if output_dir is not None and accelerator.is_main_process:
        write_sweep_outputs(records, output_dir, task, model=model, metadata=meta,
                            max_accuracy_loss=max_accuracy_loss, pole_layer=pole_layer)
    accelerator.wait_for_everyone()
    return records, summary


def _methods(text: str) -> list[str]:
    from .pruning import METHODS

    methods = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise argparse.ArgumentTypeError(f"unknown method(s) {unknown}; choose from {sorted(METHODS)}")
    return methods


def _ratio_list(text: str) -> list[float]:
    try:
        ratios = [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated ratios, got {text!r}") from None
    if not ratios or not all(0 <= r <= 1 for r in ratios):
        raise argparse.ArgumentTypeError(f"ratios must lie in [0, 1], got {text!r}")
    return ratios


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1] (0.01 = 1 point), got {text!r}")
    return value


def _add_model_arguments(parser, required: bool = True) -> None:
    source = parser.add_mutually_exclusive_group(required=required)
    source.add_argument("--model", dest="model", help="checkpoint folder or Hub id")
    source.add_argument("--default", choices=FAMILIES, help="the shipped digits checkpoint of this family")
    parser.add_argument("--revision", help="revision when --model is a Hub id")


def resolve_model_argument(args) -> str:
    return str(args.model) if args.model else str(default_checkpoint(args.default))


def add_sweep_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    _add_model_arguments(parser, required=False)
    parser.add_argument("--combine", nargs="+", type=Path, metavar="SWEEP_JSON",
                        help="no sweep: write the Table-1 summary across tasks of these sweep.json files "
                             "into OUTPUT_DIR/summary.md")
    parser.add_argument("--task", default="digits", help="task of hf_last.data.TASKS (default: digits)")
    parser.add_argument("--split", default="test", help="split to evaluate (default: test)")
    parser.add_argument("--task-settings", type=json.loads, default={},
                        help='JSON settings of the task builder, as used in training (e.g. \'{"max_length": 200}\')')
    parser.add_argument("--max-samples", type=int,
                        help="evaluate only the first N samples of the split (CPU-sized sweeps; say so when reporting)")
    parser.add_argument("--methods", type=_methods, help="comma-separated (default: every method)")
    parser.add_argument("--ratios", type=_ratio_list, default=list(DEFAULT_RATIOS),
                        help="comma-separated fractions (default: 0,0.1,...,1)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--max-accuracy-loss", type=_fraction, default=MAX_ACCURACY_LOSS,
                        help="protocol threshold as a fraction, strict (default: 0.01 = 1 %%p)")
    parser.add_argument("--pole-layer", type=int, default=0, help="layer whose poles are plotted (default: 0)")
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0, help="seed of the random method")
    return parser


def sweep_main(args) -> int:
    from accelerate import Accelerator
    import torch

    if args.combine:
        from .reporting import summarize_sweep_files

        summary = summarize_sweep_files(args.combine, Path(args.output_dir) / "summary.md",
                                        max_accuracy_loss=args.max_accuracy_loss)
        print(summary_markdown(summary), end="")
        return 0
    if not (args.model or args.default):
        raise SystemExit("pass --model PATH or --default s5|s4d (or --combine sweep.json ...)")

    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    path = resolve_model_argument(args)
    model = load_model(path, args.revision)
    dataset, forward = load_split(args.task, args.split, **args.task_settings)
    if args.max_samples is not None:
        if args.max_samples < 1:
            raise SystemExit(f"--max-samples must be positive, got {args.max_samples}")
        dataset = dataset.select(range(min(args.max_samples, len(dataset))))
    if forward:
        raise SystemExit(f"split {args.split!r} needs forward arguments {forward}; the sweep does not support them")
    records, row = run_sweep(model, dataset, args.output_dir, task=args.task, methods=args.methods, ratios=args.ratios,
                             batch_size=args.batch_size, accelerator=accelerator,
                             max_accuracy_loss=args.max_accuracy_loss, pole_layer=args.pole_layer, seed=args.seed,
                             metadata={"model": checkpoint_name(path), "model_path": path, "split": args.split,
                                       "task_settings": args.task_settings, "num_samples": len(dataset)},
                             progress=True)
    if accelerator.is_main_process:
        print(f"{len(records)} evaluations on {args.task}/{args.split} ({len(dataset)} samples, "
              f"{accelerator.num_processes} process(es)); base accuracy {100 * records[0]['base_accuracy']:.2f} %")
        print(f"protocol ratio ({row['reference']}, loss < {100 * args.max_accuracy_loss:g} %p): {100 * row['ratio']:.0f} %"
              + ("" if row["compressible"] else " (non-compressible)"))
        for method, result in row["methods"].items():
            print(f"  {method_label(method):<18} loss {100 * result['accuracy_loss']:6.2f} %p")
        print(f"wrote {args.output_dir}")
    return 0


# ---- prune (search or fixed ratio) --------------------------------------------------------------------------
def prune_with_search(model, eval_dataset, *, method: str = "last", ratio: float | None = None,
                      max_accuracy_loss: float = MAX_ACCURACY_LOSS, batch_size: int = 128, accelerator=None):
    """``(pruned, info)``: LAST search for the largest ratio within ``max_accuracy_loss`` on ``eval_dataset`` or,
    with ``ratio``, a fixed-ratio prune. ``info`` holds the chosen ratio, accuracies and search trials."""
    from .pruning import LASTPruner

    accelerator = get_accelerator(accelerator)
    pruner = LASTPruner(model, method=method)
    if ratio is None:
        result = pruner.search(eval_dataset, max_accuracy_loss=max_accuracy_loss, batch_size=batch_size,
                               accelerator=accelerator, return_result=True)
        return result.model, {"mode": "search", **result.to_dict()}
    pruned = pruner.prune(ratio)
    pad = pad_token_id(model)
    before = evaluate_accuracy(model, eval_dataset, batch_size, accelerator, pad_token_id=pad)["accuracy"]
    after = evaluate_accuracy(pruned, eval_dataset, batch_size, accelerator, pad_token_id=pad)["accuracy"]
    return pruned, {"mode": "fixed", "ratio": ratio, "accuracy": after, "base_accuracy": before,
                    "accuracy_loss": before - after, "trials": []}


def save_pruned(pruned, folder, repo_id: str, *, evaluation=None, plot=None, push: bool = False, token=None,
                private: bool | None = None):
    """Write the pruned model with card and plan into ``folder`` (and push it to ``repo_id`` when ``push``)."""
    from .hub import push_model, save_for_hub

    if push:
        return push_model(pruned, repo_id, token=token, private=private, evaluation=evaluation, plot=plot,
                          local_dir=folder)
    return save_for_hub(pruned, folder, repo_id, evaluation=evaluation, plot=plot)


def add_prune_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    _add_model_arguments(parser)
    parser.add_argument("--task", default="digits")
    parser.add_argument("--search-split", default="validation",
                        help="split the search evaluates candidates on (default: validation)")
    parser.add_argument("--eval-split", default="test", help="split reported before/after (default: test)")
    parser.add_argument("--method", default="last")
    parser.add_argument("--ratio", type=_fraction, help="fixed ratio instead of the accuracy-targeted search")
    parser.add_argument("--max-accuracy-loss", type=_fraction, default=MAX_ACCURACY_LOSS,
                        help="search tolerance as a fraction (default: 0.01 = 1 %%p; loss <= tolerance)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--output-dir", type=Path, help="where the pruned model, card and plan go")
    parser.add_argument("--push-to-hub", metavar="REPO_ID", help="also push the pruned model to this repo")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--token")
    return parser


def prune_main(args) -> int:
    from accelerate import Accelerator
    import torch

    from .hub import Evaluation

    if args.output_dir is None and args.push_to_hub is None:
        raise SystemExit("nothing to do: pass --output-dir DIR and/or --push-to-hub USER/NAME")
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    path = resolve_model_argument(args)
    model = load_model(path, args.revision)
    search_data, _ = load_split(args.task, args.search_split)
    test_data, _ = load_split(args.task, args.eval_split)
    pruned, info = prune_with_search(model, search_data, method=args.method, ratio=args.ratio,
                                     max_accuracy_loss=args.max_accuracy_loss, batch_size=args.batch_size,
                                     accelerator=accelerator)
    pad = pad_token_id(model)
    before = evaluate_accuracy(model, test_data, args.batch_size, accelerator, pad_token_id=pad)["accuracy"]
    after = evaluate_accuracy(pruned, test_data, args.batch_size, accelerator, pad_token_id=pad)["accuracy"]
    ratio = pruned.config.pruning["requested_ratio"]
    how = (f"ratio {ratio:.4f} chosen by {args.method} search on the {args.search_split} split (loss <= "
           f"{100 * args.max_accuracy_loss:g} %p)" if args.ratio is None else f"fixed ratio {ratio}")
    evaluation = Evaluation(dataset_name=args.task, dataset_type=args.task, dataset_split=args.eval_split,
                            protocol=f"{how}; accuracy on the {args.eval_split} split ({len(test_data)} sequences)",
                            accuracy_before=before, accuracy_after=after)
    if accelerator.is_main_process:
        name = f"{Path(path.rstrip('/')).name}-{args.method}-{round(100 * ratio)}"
        repo_id = args.push_to_hub or name
        folder = args.output_dir
        result = save_pruned(pruned, folder, repo_id, evaluation=evaluation, push=bool(args.push_to_hub),
                             token=args.token, private=args.private or None)
        if folder is not None:
            (Path(folder) / "search.json").write_text(json.dumps({**info, "test_accuracy_before": before,
                                                                  "test_accuracy_after": after}, indent=2) + "\n")
        print(f"{how}: states {sum(pruned.config.pruning['states_per_layer_before'])} -> "
              f"{sum(pruned.config.pruning['states_per_layer_after'])}; {args.eval_split} accuracy "
              f"{100 * before:.2f} % -> {100 * after:.2f} %")
        print(f"pushed: {result}" if args.push_to_hub else f"wrote {folder}")
    accelerator.wait_for_everyone()
    return 0


# ---- demo -----------------------------------------------------------------------------------------------------
DEMO_MARKER = "hf_last_demo.json"
DEMO_BASELINES = ("uniform_hinf", "global_magnitude")


def check_output_dir(output_dir, overwrite: bool = False, marker: str = DEMO_MARKER) -> Path:
    """Refuse a non-empty ``output_dir`` that is not an earlier demo output (no ``marker``) unless ``overwrite``.

    Nothing is ever deleted: the demo only (re)writes its own file names."""
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise SystemExit(f"--output-dir {output_dir} exists and is not a directory")
    if output_dir.is_dir() and any(output_dir.iterdir()) and not (output_dir / marker).is_file() and not overwrite:
        raise SystemExit(f"--output-dir {output_dir} is not empty and holds no earlier demo output ({marker}); "
                         "choose another directory or pass --overwrite (the demo writes its own files there and "
                         "deletes nothing)")
    return output_dir


def run_demo(checkpoint, output_dir, *, ratio: float | None = None, max_accuracy_loss: float = MAX_ACCURACY_LOSS,
             method: str = "last", baselines=DEMO_BASELINES, batch_size: int = 512, overwrite: bool = False,
             accelerator=None, print_fn=print) -> dict:
    """The README's main job on digits: prune ``checkpoint`` with LAST (search on validation, or ``ratio``),
    evaluate before/after on the test split, write the pruned model + card + accuracy-vs-ratio plot."""
    from .hub import Evaluation

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
                    batch_size=batch_size, accelerator=accelerator, pad_token_id=pad_token_id(model))
    at_chosen = {r["method"]: r for r in records if r["requested_ratio"] == chosen}
    before, after = records[0]["base_accuracy"], at_chosen[method]["accuracy"]
    states_before = sum(pruned.config.pruning["states_per_layer_before"])
    states_after = sum(pruned.config.pruning["states_per_layer_after"])
    name = Path(str(checkpoint).rstrip("/")).name
    how = (f"ratio chosen by {method_label(method)} search on the validation split (largest ratio with loss <= "
           f"{100 * max_accuracy_loss:g} %p)" if ratio is None else f"fixed ratio {ratio}")
    summary = {
        "checkpoint": str(checkpoint), "method": method, "ratio": chosen, "selection": how,
        "states_before": states_before, "states_after": states_after,
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
        baselines_text = ", ".join(f"{method_label(m)} {100 * a:.2f} %" for m, a in summary["baselines_at_ratio"].items())
        validation_text = (f"validation loss {100 * info['accuracy_loss']:.2f} %p; " if ratio is None else "")
        print_fn(f"hf-last demo: {name} on digits, {method_label(method)} pruning\n"
                 f"  {how}: {100 * chosen:.1f} % of states removed ({states_before} -> {states_after} states, "
                 f"{summary['parameters_before']:,} -> {summary['parameters_after']:,} parameters)\n"
                 f"  test accuracy: {100 * before:.2f} % -> {100 * after:.2f} % "
                 f"(loss {100 * (before - after):.2f} %p; {validation_text}{len(test)} test sequences)\n"
                 f"  baselines at the same ratio: {baselines_text}\n"
                 f"  wrote {output_dir}/pruned_model (model, card, plan) and {output_dir}/accuracy_vs_ratio.png "
                 f"in {summary['seconds']} s")
    accelerator.wait_for_everyone()
    return summary


def add_demo_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--family", choices=FAMILIES, default="s5", help="shipped checkpoint (default: s5)")
    parser.add_argument("--model", help="use this checkpoint folder instead of the shipped one")
    parser.add_argument("--ratio", type=_fraction, help="fixed pruning ratio (default: search, max loss 1 %%p)")
    parser.add_argument("--max-accuracy-loss", type=_fraction, default=MAX_ACCURACY_LOSS,
                        help="search tolerance as a fraction (default: 0.01)")
    parser.add_argument("--output-dir", type=Path, default=Path("hf_last_demo"))
    parser.add_argument("--overwrite", action="store_true",
                        help="write into a non-empty directory that is not an earlier demo output (deletes nothing)")
    return parser


def demo_main(args) -> int:
    import os

    import torch

    if "OMP_NUM_THREADS" not in os.environ:
        # The shipped models are small (batch x 64 steps): one thread is several times faster than two
        # oversubscribed ones on a busy 2-core machine. Set OMP_NUM_THREADS to choose otherwise.
        torch.set_num_threads(1)
    checkpoint = args.model or default_checkpoint(args.family)
    run_demo(checkpoint, args.output_dir, ratio=args.ratio, max_accuracy_loss=args.max_accuracy_loss,
             overwrite=args.overwrite)
    return 0
