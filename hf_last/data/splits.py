"""Seeded index splits shared by the builders."""

from __future__ import annotations

import numpy as np


def stratified_split(labels: np.ndarray, fractions: tuple[float, float, float], seed: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of train/validation/test holding ``fractions`` of every class (rounded per class).

    Each class is shuffled with ``numpy.random.default_rng(seed)`` and cut at the cumulative
    fractions, so class proportions are equal across splits. Each split's indices are sorted.
    """
    if len(fractions) != 3 or min(fractions) < 0 or not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    rng = np.random.default_rng(seed)
    parts: tuple[list, list, list] = ([], [], [])
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        cuts = np.rint(np.cumsum(fractions)[:2] * len(members)).astype(int)
        for part, chunk in zip(parts, np.split(members, cuts)):
            part.append(chunk)
    return tuple(np.sort(np.concatenate(part)) for part in parts)


def take_subset(indices: np.ndarray, size: int | None, rng: np.random.Generator) -> np.ndarray:
    """A sorted random subset of ``size`` indices (all of them when ``size`` is None)."""
    if size is None:
        return indices
    if not 0 < size <= len(indices):
        raise ValueError(f"subset size must be in 1..{len(indices)}, got {size}")
    return np.sort(rng.choice(indices, size=size, replace=False))
