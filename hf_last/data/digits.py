"""``digits``: scikit-learn's 8×8 handwritten digits read in raster order (L=64), a seconds-to-train task.

Record: ``input_values`` = the 64 pixels / 16 (values in [0, 1]), ``label`` = the digit 0–9.
Splits: a seeded stratified 70/15/15 split of the 1,797 images.
"""

from __future__ import annotations

import numpy as np
from datasets import DatasetDict

from .arrow import continuous_features, make_dataset
from .splits import stratified_split

VERSION = "1"
LABELS = [str(d) for d in range(10)]
DEFAULTS = {"seed": 0, "train_fraction": 0.7, "validation_fraction": 0.15}


def build_digits(seed: int = 0, train_fraction: float = 0.7, validation_fraction: float = 0.15) -> DatasetDict:
    """Build the digits task; the test split takes the remaining ``1 - train - validation`` fraction."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = (digits.data / 16.0).astype(np.float32)  # (1797, 64), raster order
    labels = digits.target.astype(np.int64)
    fractions = (train_fraction, validation_fraction, 1.0 - train_fraction - validation_fraction)
    features = continuous_features(64, LABELS)
    return DatasetDict({
        name: make_dataset({"input_values": pixels[idx], "label": labels[idx]}, features,
                           "sklearn digits, pixels/16 in raster order")
        for name, idx in zip(("train", "validation", "test"), stratified_split(labels, fractions, seed))
    })
