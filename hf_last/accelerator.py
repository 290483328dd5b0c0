"""The one place an ``accelerate.Accelerator`` is made for hf_last's data-parallel work (training, evaluation,
sweeps, search, the demo)."""

from __future__ import annotations

import torch


def get_accelerator(accelerator=None):
    """``accelerator`` if given, else a new ``Accelerator``: CPU when no GPU is visible, and ``split_batches``
    so a batch size is the global batch (each of N processes takes 1/N of it, as one process would see it)
    and a prepared scheduler advances once per optimiser step, not N times."""
    if accelerator is not None:
        return accelerator
    from accelerate import Accelerator
    from accelerate.utils import DataLoaderConfiguration

    return Accelerator(cpu=not torch.cuda.is_available(), dataloader_config=DataLoaderConfiguration(split_batches=True))
