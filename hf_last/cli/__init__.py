"""``hf-last``: the command-line entry point. Each subcommand parses its flags, calls one library function
(:mod:`hf_last.experiments`, :mod:`hf_last.hub`, :mod:`hf_last.training`), prints what it did and returns the
exit code; ``scripts/*.py`` reuse the same flag sets.

    hf-last prune MODEL --ratios 0.2,0.33,0.5 [--method last] [--output-dir DIR] [--push-to-hub user/name]
    hf-last train ... | hf-last sweep ... | hf-last demo ...        (each with --help)

Subcommands are argparse subparsers listed in :data:`COMMANDS`. A subcommand's module (and what it imports:
datasets, accelerate, the experiment drivers) is imported only when that subcommand runs, so ``hf-last --help``
answers without them.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..accelerator import announce_world_size
from ..hub import HubPushError

# name: (module under hf_last.cli, function that adds the subparser, one-line help shown by `hf-last --help`)
COMMANDS = {
    "prune": ("variants", "add_variants_parser", "prune a model at one or more ratios; save and/or push every variant"),
    "train": ("train", "add_train_parser", "train an S4D/S5 classifier on an hf_last task"),
    "sweep": ("sweep", "add_sweep_parser",
              "evaluate every pruning method at ratios 0..1; write records, plots and a Table-1 summary"),
    "demo": ("demo", "add_demo_parser",
             "prune the shipped digits checkpoint with LAST, evaluate before/after, write model + card + plot"),
}
DATA_PARALLEL = {"train", "sweep", "demo"}  # run under torchrun / accelerate launch: they print the world size


def build_parser(commands=None) -> argparse.ArgumentParser:
    """The ``hf-last`` parser with the full flags of ``commands`` (default: all); the other subcommands are listed
    with their help line only (enough for ``hf-last --help``)."""
    commands = set(COMMANDS) if commands is None else set(commands)
    parser = argparse.ArgumentParser(prog="hf-last", description="S4D/S5 models for transformers, pruned with LAST.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, (module, function, help_text) in COMMANDS.items():
        if name in commands:
            getattr(importlib.import_module(f"{__name__}.{module}"), function)(subparsers)
        else:
            subparsers.add_parser(name, help=help_text)
    return parser


def requested_command(argv: list[str]) -> str | None:
    """The subcommand named in ``argv`` (the first argument that is not an option), if it is one."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    return first if first in COMMANDS else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = requested_command(argv)
    args = build_parser([command] if command else []).parse_args(argv)
    if not hasattr(args, "func"):  # the subcommand came after something that looked like one: load it and reparse
        args = build_parser([args.command]).parse_args(argv)
    if args.command in DATA_PARALLEL:
        announce_world_size(f"hf-last {args.command}")
    try:
        return args.func(args)
    except HubPushError as error:
        print(f"hf-last {args.command}: {error}", file=sys.stderr)
        return 1
