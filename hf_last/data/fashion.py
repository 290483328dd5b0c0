"""``sfashion`` / ``psfashion``: Fashion-MNIST read pixel by pixel (L=784), the sMNIST/psMNIST analogue.

Data: the Debian package ``dataset-fashion-mnist`` (``apt-get install -y dataset-fashion-mnist``),
IDX files under ``/usr/share/datasets/fashion-mnist``.

Record: ``input_values`` = 784 floats, ``label`` = class 0–9 (T-shirt/top … Ankle boot).
Pixels are scaled to [0, 1] (/255) and then standardised with the mean and std of the 60,000
official training images (scalars, stored in each split's ``info.description``). ``sfashion``
reads rows in raster order; ``psfashion`` reorders them with the bit-reversal permutation of
S4/S5's psMNIST (``x[bitreversal_permutation(784)]``).

Splits: ``validation`` = ``validation_size`` images drawn (seeded) from the official training set,
``train`` = the rest, ``test`` = the official 10,000 test images. ``train_size``/``test_size``
take seeded random subsets for CPU-sized runs.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
from datasets import DatasetDict

from .arrow import continuous_features, make_dataset
from .permutations import bitreversal_permutation
from .splits import take_subset

VERSION = "1"
FASHION_ROOT = Path("/usr/share/datasets/fashion-mnist")
INSTALL_HINT = "apt-get install -y dataset-fashion-mnist"
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
          "Ankle boot"]
DEFAULTS = {"seed": 0, "validation_size": 6000, "train_size": None, "test_size": None}


def read_idx(path: Path) -> np.ndarray:
    """Read a (gzipped) IDX file of unsigned bytes: 2 zero bytes, type 0x08, ndim, big-endian dims, data."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def read_fashion_mnist(root: Path = FASHION_ROOT) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"train": (images (60000, 28, 28) uint8, labels), "test": (...)}``; a clear error if absent."""
    root = Path(root)
    files = {split: (root / f"{prefix}-images-idx3-ubyte.gz", root / f"{prefix}-labels-idx1-ubyte.gz")
             for split, prefix in (("train", "train"), ("test", "t10k"))}
    missing = [str(p) for pair in files.values() for p in pair if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"Fashion-MNIST not found ({', '.join(missing)}). Install the Debian "
                                f"package: `{INSTALL_HINT}`.")
    return {split: (read_idx(images), read_idx(labels)) for split, (images, labels) in files.items()}


def build_fashion(permuted: bool, seed: int = 0, validation_size: int = 6000, train_size: int | None = None,
                  test_size: int | None = None, root: Path = FASHION_ROOT) -> DatasetDict:
    """Build ``sfashion`` (``permuted=False``) or ``psfashion`` (``permuted=True``)."""
    raw = read_fashion_mnist(root)
    train_pixels = raw["train"][0].reshape(len(raw["train"][0]), -1).astype(np.float32) / 255.0
    mean, std = float(train_pixels.mean()), float(train_pixels.std())
    order = bitreversal_permutation(784) if permuted else np.arange(784)

    def sequences(images: np.ndarray, idx: np.ndarray) -> np.ndarray:
        x = images[idx].reshape(len(idx), -1).astype(np.float32) / 255.0
        return ((x - mean) / std)[:, order]

    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(len(raw["train"][1]))
    if not 0 < validation_size < len(shuffled):
        raise ValueError(f"validation_size must be in 1..{len(shuffled) - 1}, got {validation_size}")
    split_indices = {
        "train": take_subset(np.sort(shuffled[validation_size:]), train_size, rng),
        "validation": np.sort(shuffled[:validation_size]),
        "test": take_subset(np.arange(len(raw["test"][1])), test_size, rng),
    }
    description = json.dumps({"task": "psfashion" if permuted else "sfashion", "pixel_scale": 1 / 255,
                              "mean": mean, "std": std, "permutation": "bitreversal" if permuted else "none"})
    features = continuous_features(784, LABELS)
    out = {}
    for split, idx in split_indices.items():
        images, labels = raw["test" if split == "test" else "train"]
        out[split] = make_dataset({"input_values": sequences(images, idx), "label": labels[idx].astype(np.int64)},
                                  features, description)
    return DatasetDict(out)
