"""``hf-last prune``: prune one model at several ratios and save and/or push every variant
(:func:`hf_last.hub.prepare_variants`, :func:`hf_last.hub.push_variants`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..hub import prepare_variants, push_variants
from ..loading import checkpoint_name, load_model
from ..pruning.criteria import get_criterion, method_spec, parse_method
from .arguments import horizon, ratio_list
from .recovery import add_recovery_arguments, recovery_config


def add_variants_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "prune", help="prune a model at one or more ratios; save and/or push every variant",
        description="Prune MODEL (a local folder or Hub id) at each ratio with LAST (or --method). Variants go to "
                    "separate repos USER/NAME-pruned-{100*ratio} next to the base at USER/NAME; each card links "
                    "its base and siblings.")
    parser.add_argument("model", help="local folder or Hub repo id of an S4D/S5 model")
    parser.add_argument("--ratios", type=ratio_list, required=True, help="comma-separated, e.g. 0.2,0.33,0.5")
    parser.add_argument("--method", default="last", help="pruning method (default: last); see hf_last.pruning.METHODS")
    parser.add_argument("--horizon", type=horizon, default=None,
                        help="score horizon of the H-inf/H2 methods: none (default, the paper's scores) or an integer "
                             "L, the sequence length the model runs on; auto (the longest validation sequence of --task) only "
                             "with --recover-epochs/--recover-steps, which load the task")
    parser.add_argument("--output-dir", type=Path, help="write one folder per repo here (kept after pushing)")
    parser.add_argument("--push-to-hub", metavar="REPO_ID", help="push base to REPO_ID and variants to REPO_ID-pruned-XX")
    parser.add_argument("--no-push-base", action="store_true",
                        help="push only the variants (their card names MODEL as base when it is a Hub id)")
    parser.add_argument("--name", help="repo name for local output without --push-to-hub (default: MODEL's name)")
    parser.add_argument("--revision", help="revision of MODEL when it is a Hub id")
    parser.add_argument("--private", action="store_true", help="create private repos")
    parser.add_argument("--token", help="Hub token (default: HF_TOKEN or `hf auth login`)")
    parser.add_argument("--task", help="the task MODEL was trained on, whose train split the recovery fine-tune "
                                       "uses (needed with --recover-epochs/--recover-steps)")
    add_recovery_arguments(parser)
    parser.set_defaults(func=variants_main, parser=parser)


def variants_main(args: argparse.Namespace) -> int:
    if args.push_to_hub is None and args.output_dir is None:
        raise SystemExit("hf-last prune: nothing to do; pass --output-dir DIR and/or --push-to-hub USER/NAME")
    if args.task is None and (args.recover_epochs or args.recover_steps):
        args.parser.error("--recover-epochs/--recover-steps fine-tune on a task's train split: pass --task T, the "
                          "task MODEL was trained on")
    recovery = recovery_config(args, args.parser, split_over_steps=True)
    if args.horizon == "auto" and recovery is None:
        raise SystemExit("hf-last prune: --horizon auto takes L from the task's data, which this command loads only "
                         "to fine-tune (--recover-epochs N --task T); pass --horizon L (the sequence length) or use "
                         "scripts/prune.py --task TASK")
    method = method_spec(args.method, args.horizon)
    try:  # a horizon asked of a method without one, an unknown method: the parser's error, not a traceback
        name, spec_horizon = parse_method(method)
        get_criterion(name).check_takes_horizon(spec_horizon)
    except ValueError as error:
        args.parser.error(str(error))
    prune = None
    if recovery is not None:
        from ..recovery import recovering_prune

        prune = recovering_prune(recovery, method=method, iterative_steps=args.iterative_steps)
    model = load_model(args.model, args.revision)
    if recovery is not None:
        from ..recovery import check_model_fits_task

        try:
            check_model_fits_task(model, args.task)
        except ValueError as error:
            raise SystemExit(f"hf-last prune: {error}") from None
    if args.push_to_hub:
        commits = push_variants(model, args.ratios, args.push_to_hub, method=method, token=args.token,
                                private=args.private or None, output_dir=args.output_dir,
                                push_base=not args.no_push_base, prune=prune)
        for repo_id, commit in commits.items():
            print(f"{repo_id}: {commit}")
        return 0
    prepared = prepare_variants(model, args.ratios, args.name or checkpoint_name(args.model), args.output_dir,
                                method=method, prune=prune)
    for repo_id, (folder, _) in prepared.items():
        print(f"{repo_id}: {folder}")
    return 0
