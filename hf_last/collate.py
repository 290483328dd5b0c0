"""Batching variable-length sequence examples into right-padded tensors with an attention mask."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def _as_sequence(values) -> torch.Tensor:
    tensor = torch.as_tensor(values)
    return tensor[:, None] if tensor.dim() == 1 and tensor.is_floating_point() else tensor


def model_pad_token_id(model) -> int:
    """The id that pads ``input_ids`` for ``model``: its ``config.pad_token_id``, else 0."""
    return getattr(getattr(model, "config", None), "pad_token_id", None) or 0


def collate_sequences(examples: Sequence[dict], pad_token_id: int = 0) -> dict[str, torch.Tensor]:
    """Stack examples with ``input_values`` ((L,) or (L, C) floats) or ``input_ids`` ((L,) ints) and ``label``.

    Shorter sequences are right-padded (zeros / ``pad_token_id``); ``attention_mask`` marks real steps and is
    only returned when lengths differ, so equal-length batches take the mask-free fast path.
    """
    if not examples:
        raise ValueError("cannot collate an empty batch")
    key = "input_ids" if "input_ids" in examples[0] else "input_values"
    if key not in examples[0]:
        raise ValueError(f"examples need 'input_values' or 'input_ids'; got keys {sorted(examples[0])}")
    sequences = [_as_sequence(example[key]) for example in examples]
    lengths = [len(sequence) for sequence in sequences]
    longest = max(lengths)
    fill = pad_token_id if key == "input_ids" else 0.0
    padded = sequences[0].new_full((len(sequences), longest) + tuple(sequences[0].shape[1:]), fill)
    mask = torch.zeros(len(sequences), longest, dtype=torch.long)
    for i, (sequence, length) in enumerate(zip(sequences, lengths)):
        padded[i, :length] = sequence
        mask[i, :length] = 1
    batch = {key: padded if key == "input_ids" else padded.float()}
    if min(lengths) != longest:
        batch["attention_mask"] = mask
    label_key = "label" if "label" in examples[0] else "labels" if "labels" in examples[0] else None
    if label_key is not None:
        batch["labels"] = torch.as_tensor([example[label_key] for example in examples])
    return batch


def longest_sequence(dataset) -> int:
    """The longest sequence (steps of ``input_values`` or ``input_ids``) in ``dataset``: the horizon L a model
    evaluated on it runs for (``LASTPruner(horizon="auto")`` resolves to this)."""
    if len(dataset) == 0:
        raise ValueError("cannot take the longest sequence of an empty dataset")
    names = getattr(dataset, "column_names", None) or list(dataset[0])
    key = "input_ids" if "input_ids" in names else "input_values"
    if key not in names:
        raise ValueError(f"examples need 'input_values' or 'input_ids'; got columns {sorted(names)}")
    return max(len(sequence) for sequence in dataset[key])
