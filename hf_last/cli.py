"""``hf-last``: command-line entry point. Every subcommand is a thin call into the library.

    hf-last prune MODEL --ratios 0.2,0.33,0.5 [--method last] [--output-dir DIR] [--push-to-hub user/name]

Subcommands are argparse subparsers registered in :data:`COMMANDS`; add ``train``/``sweep``/``demo`` the same way.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _ratios(text: str) -> list[float]:
    try:
        ratios = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--ratios takes comma-separated numbers, got {text!r}") from None
    if not ratios or not all(0 < r < 1 for r in ratios):
        raise argparse.ArgumentTypeError(f"every ratio must be in (0, 1), got {text!r}")
    return ratios


def _load(model: str, revision: str | None):
    from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification

    import hf_last  # noqa: F401  (registers the model types)
    from .models.checkpoint_files import check_checkpoint_folder

    check_checkpoint_folder(model)  # names the missing config.json (AutoConfig says 'Unrecognized model')
    config = AutoConfig.from_pretrained(model, revision=revision)
    auto = AutoModelForSequenceClassification
    if not any(a.endswith("ForSequenceClassification") for a in (config.architectures or [])):
        auto = AutoModel
    return auto.from_pretrained(model, revision=revision).eval()


def add_prune_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "prune", help="prune a model at one or more ratios; save and/or push every variant",
        description="Prune MODEL (a local folder or Hub id) at each ratio with LAST (or --method). Variants go to "
                    "separate repos USER/NAME-pruned-{100*ratio} next to the base at USER/NAME; each card links "
                    "its base and siblings.")
    parser.add_argument("model", help="local folder or Hub repo id of an S4D/S5 model")
    parser.add_argument("--ratios", type=_ratios, required=True, help="comma-separated, e.g. 0.2,0.33,0.5")
    parser.add_argument("--method", default="last", help="pruning method (default: last); see hf_last.pruning.METHODS")
    parser.add_argument("--output-dir", type=Path, help="write one folder per repo here (kept after pushing)")
    parser.add_argument("--push-to-hub", metavar="REPO_ID", help="push base to REPO_ID and variants to REPO_ID-pruned-XX")
    parser.add_argument("--no-push-base", action="store_true",
                        help="push only the variants (their card names MODEL as base when it is a Hub id)")
    parser.add_argument("--name", help="repo name for local output without --push-to-hub (default: MODEL's name)")
    parser.add_argument("--revision", help="revision of MODEL when it is a Hub id")
    parser.add_argument("--private", action="store_true", help="create private repos")
    parser.add_argument("--token", help="Hub token (default: HF_TOKEN or `hf auth login`)")
    parser.set_defaults(func=run_prune)


def run_prune(args) -> int:
    from .hub import prepare_variants, push_variants

    if args.push_to_hub is None and args.output_dir is None:
        raise SystemExit("hf-last prune: nothing to do; pass --output-dir DIR and/or --push-to-hub USER/NAME")
    model = _load(args.model, args.revision)
    if args.push_to_hub:
        commits = push_variants(model, args.ratios, args.push_to_hub, method=args.method, token=args.token,
                                private=args.private or None, output_dir=args.output_dir,
                                push_base=not args.no_push_base)
        for repo_id, commit in commits.items():
            print(f"{repo_id}: {commit}")
        return 0
    name = args.name or Path(args.model.rstrip("/")).name
    prepared = prepare_variants(model, args.ratios, name, args.output_dir, method=args.method)
    for repo_id, (folder, _) in prepared.items():
        print(f"{repo_id}: {folder}")
    return 0


def add_sweep_parser(subparsers) -> None:
    from .experiments import add_sweep_arguments, sweep_main

    parser = subparsers.add_parser(
        "sweep", help="evaluate every pruning method at ratios 0..1; write records, plots and a Table-1 summary",
        description="Sweep pruning methods x ratios on a task split (data-parallel under torchrun; only the main "
                    "process writes). Same flags as scripts/sweep.py.")
    add_sweep_arguments(parser)
    parser.set_defaults(func=sweep_main)


def add_demo_parser(subparsers) -> None:
    from .experiments import add_demo_arguments, demo_main

    parser = subparsers.add_parser(
        "demo", help="prune the shipped digits checkpoint with LAST, evaluate before/after, write model + card + plot",
        description="Offline demo: the shipped S5 (or --family s4d) digits checkpoint, pruned with LAST at the "
                    "largest ratio within 1 %%p on the validation split (or --ratio), evaluated on the test split.")
    add_demo_arguments(parser)
    parser.set_defaults(func=demo_main)


def add_train_parser(subparsers) -> None:
    from .training import TrainingArguments

    parser = subparsers.add_parser("train", help="train an S4D/S5 classifier on an hf_last task",
                                   description="Same options as scripts/train.py (hf_last.training).")
    TrainingArguments.add_arguments(parser)
    parser.set_defaults(func=run_train, parser=parser)


def run_train(args) -> int:
    from .training import TrainingArguments, train

    train(TrainingArguments.from_namespace(args, args.parser))
    return 0


COMMANDS = [add_prune_parser, add_train_parser]
COMMANDS += [add_sweep_parser, add_demo_parser]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hf-last", description="S4D/S5 models for transformers, pruned with LAST.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .hub import HubPushError

    try:
        return args.func(args)
    except HubPushError as error:
        print(f"hf-last {args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
