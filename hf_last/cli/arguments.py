"""Argument types and flag groups shared by the ``hf-last`` subcommands and ``scripts/*.py``."""

from __future__ import annotations

import argparse

from ..loading import resolve_checkpoint
from ..models import FAMILIES
from ..pruning import METHODS
from ..pruning.criteria import parse_method


def ratio_list(text: str) -> list[float]:
    """``"0.2,0.33,0.5"`` -> [0.2, 0.33, 0.5]: pruning ratios, fractions of the states removed, in [0, 1]."""
    try:
        ratios = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated ratios, got {text!r}") from None
    if not ratios or not all(0 <= r <= 1 for r in ratios):
        raise argparse.ArgumentTypeError(f"ratios must lie in [0, 1], got {text!r}")
    return ratios


def fraction(text: str) -> float:
    """One number in [0, 1] (a ratio, or an accuracy loss: 0.01 = 1 point)."""
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1] (0.01 = 1 point), got {text!r}")
    return value


def horizon(text: str) -> int | str | None:
    """``--horizon``: ``none`` (the paper's infinite-horizon scores), ``auto`` (the data's longest sequence) or
    a positive integer L."""
    if text.lower() == "none":
        return None
    if text == "auto":
        return "auto"
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise argparse.ArgumentTypeError(f"expected none, auto or a positive integer sequence length, got {text!r}")


HORIZON_HELP = ("score horizon of the H-inf/H2 methods: none (the paper's scores, infinite impulse responses), "
                "auto (the longest sequence of the evaluated split) or an integer L")


def method_list(text: str) -> list[str]:
    """``"last,last@auto,random"`` -> ["last", "last@auto", "random"]: method specs ``NAME`` or ``NAME@L`` /
    ``NAME@auto`` (:func:`hf_last.pruning.criteria.parse_method`), every name one of
    :data:`hf_last.pruning.METHODS`."""
    methods = [m.strip() for m in text.split(",") if m.strip()]
    try:
        unknown = [m for m in methods if parse_method(m)[0] not in METHODS]
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if unknown or not methods:
        raise argparse.ArgumentTypeError(f"unknown method(s) {unknown}; choose from {sorted(METHODS)}, optionally "
                                         "with a horizon: NAME@L or NAME@auto (e.g. last@auto)")
    return methods


def add_model_source_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """``--model PATH_OR_HUB_ID`` or ``--default FAMILY`` (the shipped checkpoint), and ``--revision``."""
    source = parser.add_mutually_exclusive_group(required=required)
    source.add_argument("--model", dest="model", help="checkpoint folder or Hub id")
    source.add_argument("--default", choices=FAMILIES, help="the shipped digits checkpoint of this family")
    parser.add_argument("--revision", help="revision when --model is a Hub id")


def checkpoint_argument(args: argparse.Namespace) -> str:
    """The checkpoint that ``--model`` or ``--default`` names."""
    return resolve_checkpoint(args.model, args.default)
