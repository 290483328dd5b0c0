"""``hf-last train``: the flags of :class:`hf_last.training.TrainConfig` and a call to :func:`hf_last.training.train`."""

from __future__ import annotations

import argparse

from ..training import TrainConfig, train


def add_train_parser(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train an S4D/S5 classifier on an hf_last task",
                                   description="Same options as scripts/train.py (hf_last.training).")
    TrainConfig.add_arguments(parser)
    parser.set_defaults(func=train_main, parser=parser)


def train_main(args: argparse.Namespace) -> int:
    train(TrainConfig.from_namespace(args, args.parser))
    return 0
