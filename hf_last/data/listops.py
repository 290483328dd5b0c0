"""``listops``: the Long Range Arena ListOps generator (Tay et al., 2021), CPU-sized by default.

A tree is generated top-down from depth 1 (LRA ``generate_tree``): below ``max_depth`` draw
r ~ U(0, 1), at ``max_depth`` r = 1; if r > 0.25 the node is a digit 0–9, else it is an operator
([MIN, [MAX, [MED = int(median), [SM = sum mod 10) over ``randint(2, max_args)`` subtrees, closed by ``]``.
Trees with ``min_length < length < max_length`` (length = digits + 2 per operator = number of tokens)
are kept, duplicates dropped, until ``num_train + num_validation + num_test`` are collected; splits
are consecutive in generation order. LRA uses 500 < length < 2000 and 96k/2k/2k.

Record: ``input_ids`` = the tokens without parentheses (e.g. ``[MAX 2 9 ]``) mapped through ``VOCAB``
(pad id 0, unpadded, variable length), ``label`` = the value of the tree (0–9).
"""

from __future__ import annotations

import random

import numpy as np
from datasets import DatasetDict

from .arrow import make_dataset, token_features

VERSION = "1"
PAD = "<pad>"
OPERATORS = ("[MIN", "[MAX", "[MED", "[SM")
END = "]"
VALUE_P = 0.25
VOCAB = {PAD: 0, **{str(d): d + 1 for d in range(10)}, **{op: 11 + i for i, op in enumerate(OPERATORS)}, END: 15}
ID_TO_TOKEN = {i: t for t, i in VOCAB.items()}
LABELS = [str(d) for d in range(10)]
DEFAULTS = {"seed": 0, "num_train": 4000, "num_validation": 500, "num_test": 500,
            "min_length": 30, "max_length": 200, "max_depth": 10, "max_args": 10}


def apply_operator(op: str, values: list[int]) -> int:
    """Value of ``[op v1 ... vk ]``."""
    if op == "[MIN":
        return min(values)
    if op == "[MAX":
        return max(values)
    if op == "[MED":
        return int(np.median(values))
    if op == "[SM":
        return sum(values) % 10
    raise ValueError(f"unknown operator {op!r}")


class _TooLong(Exception):
    """Raised inside ``generate_tree`` once a tree reaches its length budget."""


def generate_tree(rng: random.Random, max_depth: int, max_args: int, depth: int = 1,
                  budget: list[int] | None = None) -> tuple[list[str], int]:
    """One random tree as (tokens, value); the draws follow LRA's ``generate_tree`` order.

    ``budget`` (a one-element list, decremented per token) stops the draw early with ``_TooLong``
    once the tree cannot fit: rejection sampling then wastes no time on huge trees, and the
    accepted trees keep LRA's distribution (each attempt is an independent draw).
    """
    r = rng.random() if depth < max_depth else 1.0
    if r > VALUE_P:
        value = rng.choice(range(10))
        _spend(budget, 1)
        return [str(value)], value
    num_args = rng.randint(2, max_args)
    _spend(budget, 2)
    children = [generate_tree(rng, max_depth, max_args, depth + 1, budget) for _ in range(num_args)]
    op = rng.choice(OPERATORS)
    tokens = [op] + [t for child_tokens, _ in children for t in child_tokens] + [END]
    return tokens, apply_operator(op, [value for _, value in children])


def _spend(budget: list[int] | None, tokens: int) -> None:
    if budget is not None:
        budget[0] -= tokens
        if budget[0] < 0:
            raise _TooLong


def generate_examples(count: int, seed: int, min_length: int, max_length: int, max_depth: int,
                      max_args: int, max_tries: int | None = None) -> list[tuple[list[str], int]]:
    """``count`` distinct trees with ``min_length < len(tokens) < max_length``, in generation order."""
    rng = random.Random(seed)
    seen: set[tuple[str, ...]] = set()
    examples = []
    max_tries = max_tries if max_tries is not None else 1000 * count + 10_000
    for _ in range(max_tries):
        if len(examples) == count:
            return examples
        try:
            tokens, value = generate_tree(rng, max_depth, max_args, budget=[max_length - 1])
        except _TooLong:
            continue
        key = tuple(tokens)
        if min_length < len(tokens) < max_length and key not in seen:
            seen.add(key)
            examples.append((tokens, value))
    if len(examples) < count:
        raise RuntimeError(f"only {len(examples)} of {count} distinct trees with {min_length} < length < "
                           f"{max_length} after {max_tries} draws; widen the length range or lower the counts")
    return examples


def encode(tokens: list[str]) -> list[int]:
    """Token strings -> ids of ``VOCAB``."""
    return [VOCAB[t] for t in tokens]


def decode(ids: list[int]) -> list[str]:
    """Ids -> token strings, dropping padding."""
    return [ID_TO_TOKEN[i] for i in ids if i != VOCAB[PAD]]


def build_listops(seed: int = 0, num_train: int = 4000, num_validation: int = 500, num_test: int = 500,
                  min_length: int = 30, max_length: int = 200, max_depth: int = 10, max_args: int = 10
                  ) -> DatasetDict:
    """Build the ListOps task (see the module docstring)."""
    examples = generate_examples(num_train + num_validation + num_test, seed, min_length, max_length,
                                 max_depth, max_args)
    features = token_features(LABELS)
    bounds = np.cumsum([0, num_train, num_validation, num_test])
    out = {}
    for split, start, stop in zip(("train", "validation", "test"), bounds[:-1], bounds[1:]):
        chunk = examples[start:stop]
        out[split] = make_dataset({"input_ids": [encode(tokens) for tokens, _ in chunk],
                                   "label": [value for _, value in chunk]}, features,
                                  "LRA ListOps generator; tokens without parentheses, pad id 0")
    return DatasetDict(out)
