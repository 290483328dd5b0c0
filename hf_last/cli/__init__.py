"""``hf-last``: the command-line entry point. Each subcommand parses its flags, calls one library function
(:mod:`hf_last.experiments`, :mod:`hf_last.hub`, :mod:`hf_last.training`), prints what it did and returns the
exit code; ``scripts/*.py`` reuse the same flag sets.

    hf-last prune MODEL --ratios 0.2,0.33,0.5 [--method last] [--output-dir DIR] [--push-to-hub user/name]
    hf-last train ... | hf-last sweep ... | hf-last demo ...        (each with --help)

Subcommands are argparse subparsers registered in :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import sys

from ..hub import HubPushError
from .demo import add_demo_parser
from .sweep import add_sweep_parser
from .train import add_train_parser
from .variants import add_variants_parser

COMMANDS = [add_variants_parser, add_train_parser, add_sweep_parser, add_demo_parser]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hf-last", description="S4D/S5 models for transformers, pruned with LAST.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except HubPushError as error:
        print(f"hf-last {args.command}: {error}", file=sys.stderr)
        return 1

