"""Turn numpy arrays and Python lists into ``datasets.Dataset`` without per-row Python conversion."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from datasets import ClassLabel, Dataset, DatasetInfo, Features, List, Value


def continuous_features(length: int, label_names: list[str], **extra) -> Features:
    """``input_values``: fixed-length float32 list (L,); ``label``: ClassLabel; plus ``extra`` columns."""
    return Features({"input_values": List(Value("float32"), length=length),
                     "label": ClassLabel(names=list(label_names)), **extra})


def token_features(label_names: list[str], **extra) -> Features:
    """``input_ids``: variable-length int32 list; ``label``: ClassLabel; plus ``extra`` columns."""
    return Features({"input_ids": List(Value("int32")), "label": ClassLabel(names=list(label_names)), **extra})


def _column(values: Any, feature) -> pa.Array:
    if isinstance(feature, List) and isinstance(values, np.ndarray) and values.ndim == 2:
        dtype = np.dtype(feature.feature.dtype)
        flat = pa.array(np.ascontiguousarray(values, dtype=dtype).ravel())
        if feature.length == -1:
            offsets = pa.array(np.arange(0, values.size + 1, values.shape[1], dtype=np.int32))
            return pa.ListArray.from_arrays(offsets, flat)
        return pa.FixedSizeListArray.from_arrays(flat, values.shape[1])
    return pa.array(values, type=Features({"c": feature}).arrow_schema.field("c").type)


def make_dataset(columns: dict[str, Any], features: Features, description: str = "") -> Dataset:
    """A ``Dataset`` with exactly ``features`` from column arrays (2-D numpy arrays for list columns)."""
    table = pa.table({name: _column(columns[name], feature) for name, feature in features.items()},
                     schema=features.arrow_schema)
    return Dataset(table, info=DatasetInfo(features=features, description=description))
