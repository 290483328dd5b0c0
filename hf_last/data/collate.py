"""Batching records of any task into model inputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class SequenceCollator:
    """Collate records into ``{"input_values" | "input_ids", "attention_mask"?, "labels"}`` tensors.

    ``input_values`` (all records of a split have the same length L) stack to (B, L) float32; the
    models accept (B, L) when ``input_size == 1``. ``input_ids`` are right-padded with ``pad_id`` to
    the longest record (or to ``pad_to`` when given) and come with an ``attention_mask``
    (1 = real token). ``label`` becomes ``labels``; other columns (e.g. ``speaker``) are dropped.
    """

    pad_id: int = 0
    pad_to: int | None = None

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        batch: dict[str, torch.Tensor] = {}
        if "input_values" in features[0]:
            batch["input_values"] = torch.stack([torch.as_tensor(f["input_values"], dtype=torch.float32)
                                                 for f in features])
        if "input_ids" in features[0]:
            ids = [torch.as_tensor(f["input_ids"], dtype=torch.long) for f in features]
            length = max(self.pad_to or 0, max(len(x) for x in ids))
            batch["input_ids"] = torch.full((len(ids), length), self.pad_id, dtype=torch.long)
            batch["attention_mask"] = torch.zeros((len(ids), length), dtype=torch.long)
            for row, x in enumerate(ids):
                batch["input_ids"][row, : len(x)] = x
                batch["attention_mask"][row, : len(x)] = 1
        if "label" in features[0]:
            batch["labels"] = torch.tensor([int(f["label"]) for f in features], dtype=torch.long)
        return batch
