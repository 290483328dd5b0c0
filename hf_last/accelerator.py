"""The one place an ``accelerate.Accelerator`` is made for hf_last's data-parallel work (training, evaluation,
sweeps, search, the demo), and the launch check the scripts print at start (:func:`announce_world_size`).

Launchers that give N processes (every process reads ``WORLD_SIZE``):

- ``torchrun --nproc_per_node N script.py ...``
- ``accelerate launch --multi_gpu --num_processes N script.py ...``: N GPUs when N are visible, else N gloo
  ranks on CPU;
- not ``accelerate launch --cpu --num_processes N``: its simple launcher starts ONE process whatever N says
  (accelerate runs several CPU processes only through mpirun, ``--mpirun_hostfile``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch


def get_accelerator(accelerator=None, mixed_precision: str | None = None):
    """``accelerator`` if given, else a new ``Accelerator``: CPU when no GPU is visible, and ``split_batches``
    so a batch size is the global batch (each of N processes takes 1/N of it, as one process would see it)
    and a prepared scheduler advances once per optimiser step, not N times. ``mixed_precision`` ("no", "bf16",
    "fp16") overrides ``accelerate launch --mixed_precision`` / ``accelerate config``."""
    if accelerator is not None:
        return accelerator
    from accelerate import Accelerator
    from accelerate.utils import DataLoaderConfiguration

    return Accelerator(cpu=not torch.cuda.is_available(), mixed_precision=mixed_precision,
                       dataloader_config=DataLoaderConfiguration(split_batches=True))


def world_size() -> int:
    """Processes in this run, as the launcher told them (``WORLD_SIZE``; 1 when started without a launcher)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def requested_processes(launcher_command: list[str] | None = None) -> int | None:
    """``N`` of ``accelerate launch ... --num_processes N`` when this process was started by such a command
    (read from the parent process on Linux, or given as ``launcher_command``); None when unknown."""
    if launcher_command is None:
        launcher_command = _parent_command()
    if "launch" not in launcher_command:
        return None
    arguments = launcher_command[launcher_command.index("launch") + 1:]
    for index, token in enumerate(arguments):
        if not token.startswith("-"):  # the training script: its own flags follow
            break
        name, _, value = token.partition("=")
        if name in ("--num_processes", "--num-processes"):
            value = value or (arguments[index + 1] if index + 1 < len(arguments) else "")
            return int(value) if value.isdigit() else None
    return None


def _parent_command() -> list[str]:
    try:
        raw = Path(f"/proc/{os.getppid()}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def announce_world_size(program: str, stream=None) -> int:
    """Print (from rank 0 only, to stderr) how many processes run ``program``, and a warning when a launcher
    was asked for more than started (``accelerate launch --cpu --num_processes N``). Returns the world size."""
    stream = sys.stderr if stream is None else stream
    size = world_size()
    if int(os.environ.get("RANK", "0")) != 0:
        return size
    print(f"{program}: world size {size} ({'1 process' if size == 1 else f'{size} processes'})", file=stream,
          flush=True)
    requested = requested_processes()
    if requested is not None and requested > size:
        print(f"{program}: warning: the launcher was asked for {requested} processes but started {size}. "
              f"`accelerate launch --cpu` runs one process whatever --num_processes says; for {requested} CPU "
              f"processes use `accelerate launch --multi_gpu --num_processes {requested} ...` (gloo ranks on CPU "
              f"when no GPU is visible) or `torchrun --nproc_per_node {requested} ...`.", file=stream, flush=True)
    return size
