"""Fixed pixel-order permutations for the permuted sequential image tasks."""

from __future__ import annotations

import numpy as np


def bitreversal_permutation(n: int) -> np.ndarray:
    """The S4/S5 psMNIST permutation of ``0..n-1`` (``state-spaces/s4`` ``bitreversal_permutation``).

    Reverse the ``m = ceil(log2 n)`` bits of every index ``0..2^m - 1`` and keep, in that order,
    the reversed indices below ``n``. The permuted sequence is ``x[perm]`` (a gather), e.g. for
    ``n = 784``, ``m = 10``: ``perm = [0, 512, 256, 768, 128, 640, 384, 64, ...]``.
    """
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    bits = max(int(n - 1).bit_length(), 0)
    indices = np.arange(1 << bits)
    reversed_ = np.zeros_like(indices)
    for b in range(bits):
        reversed_ |= ((indices >> b) & 1) << (bits - 1 - b)
    return reversed_[reversed_ < n]
