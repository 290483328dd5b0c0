"""Training S4D/S5 sequence classifiers on the offline tasks with accelerate.

>>> from hf_last.training import TrainConfig, train
>>> metrics = train(TrainConfig(family="s4d", task="digits", hidden_size=32, num_hidden_layers=2,
...                             state_size=16, epochs=3, output_dir="runs/s4d-digits"))

One process or many (``torchrun --nproc_per_node 2 scripts/train.py ...``, or
``accelerate launch --multi_gpu --num_processes 2 scripts/train.py ...``, which gives 2 gloo ranks on CPU when no
GPU is visible; ``accelerate launch --cpu --num_processes 2`` starts a single process, and the script warns). Every
process trains on its shard of each batch, validation is data-parallel (``evaluate_accuracy``), and only the
main process writes files. ``output_dir`` receives:

- ``best/``: ``save_pretrained`` of the epoch with the best validation accuracy, with a model card
  (``README.md``) and ``metrics.json`` (the run's metrics, including the best model's test accuracy);
- ``last/``: ``accelerator.save_state`` after every epoch (model, optimizer, scheduler, RNG states and the
  trainer state: epoch counter, best score, history); ``resume=True`` continues from it;
- ``metrics.json``: arguments, one record per epoch, best epoch, test accuracy (and extra evaluation splits,
  e.g. speech ``test_8khz`` at ``step_rescale=2``), wall time. Rewritten after every epoch.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from functools import partial
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from .accelerator import get_accelerator, world_size
from .models import FAMILIES

BEST_DIR, LAST_DIR, METRICS_FILE = "best", "last", "metrics.json"


MIXED_PRECISION = ("no", "bf16", "fp16")


@dataclass
class TrainConfig:
    """Everything a training run needs; validated on construction (clear ``ValueError`` for bad values).

    (Named apart from ``transformers.TrainingArguments``, which configures ``transformers.Trainer``; the old name
    ``hf_last.training.TrainingArguments`` still works and warns.)
    """

    family: str = field(default="s5", metadata={"help": "model family: s5 or s4d (the shipped models' family "
                                                        "is the default of every hf-last command)"})
    task: str = field(default="digits", metadata={"help": "task name in hf_last.data.TASKS"})
    task_settings: dict = field(default_factory=dict,
                                metadata={"help": "task generator settings, JSON (e.g. '{\"max_length\": 500}')"})
    hidden_size: int = field(default=64, metadata={"help": "channels h"})
    num_hidden_layers: int = field(default=4, metadata={"help": "number of SSM layers"})
    state_size: int = field(default=64, metadata={"help": "states per layer (S5: P) or per channel (S4D: N)"})
    blocks: int = field(default=1, metadata={"help": "S5 HiPPO-N init blocks J (ignored by S4D)"})
    bidirectional: bool = field(default=False, metadata={"help": "scan both directions"})
    norm_type: str = field(default="layer", metadata={"help": "layer or batch"})
    prenorm: bool = field(default=True, metadata={"help": "normalise before the SSM"})
    dropout: float = field(default=0.0, metadata={"help": "dropout probability"})
    dt_min: float = field(default=0.001, metadata={"help": "smallest initial step size"})
    dt_max: float = field(default=0.1, metadata={"help": "largest initial step size"})
    lr: float = field(default=3e-3, metadata={"help": "learning rate of non-SSM parameters"})
    ssm_lr: float = field(default=1e-3, metadata={"help": "learning rate of Λ, B, Δ (no weight decay)"})
    weight_decay: float = field(default=0.05, metadata={"help": "AdamW weight decay (non-SSM weights)"})
    batch_size: int = field(default=32, metadata={"help": "global training batch size (split over processes)"})
    epochs: int = field(default=10, metadata={"help": "epochs; the cosine schedule spans all of them"})
    warmup: float = field(default=0.1, metadata={"help": "warmup fraction of all optimiser steps"})
    max_grad_norm: float | None = field(default=None, metadata={"help": "clip gradients to this norm"})
    seed: int = field(default=0, metadata={"help": "seed of init, subsampling, shuffling and dropout"})
    output_dir: str | None = field(default=None, metadata={"help": "default: runs/<family>-<task>"})
    eval_batch_size: int = field(default=128, metadata={"help": "global evaluation batch size"})
    max_train_samples: int | None = field(default=None, metadata={"help": "train on a random subset of this size"})
    max_eval_samples: int | None = field(default=None,
                                         metadata={"help": "validate on a random subset of this size (test is full)"})
    resume: bool = field(default=False, metadata={"help": "continue from output_dir/last"})
    stop_after_epochs: int | None = field(
        default=None, metadata={"help": "end this invocation after N epochs (the schedule still spans --epochs); "
                                        "continue later with --resume"})
    max_steps: int | None = field(default=None, metadata={"help": "stop after N optimiser steps (timing runs)"})
    num_threads: int | None = field(default=None, metadata={"help": "torch.set_num_threads per process"})
    progress: bool = field(default=True, metadata={"help": "tqdm progress bars (main process only)"})
    log_every: int | None = field(default=None, metadata={"help": "print step, loss and s/step every N steps "
                                                                  "(for logs of runs without progress bars)"})
    mixed_precision: str | None = field(
        default=None, metadata={"help": "accelerate's mixed precision: no, bf16 or fp16 (forward under autocast; the "
                                        "SSM math stays float32). Default: what `accelerate launch "
                                        "--mixed_precision` or `accelerate config` says, else no"})

    def __post_init__(self):
        from .data import TASKS

        if self.family not in FAMILIES:
            raise ValueError(f"unknown model family {self.family!r}; choose one of {list(FAMILIES)}")
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; available: {sorted(TASKS)}")
        if not isinstance(self.task_settings, dict):
            raise ValueError(f"task_settings must be a dict, got {type(self.task_settings).__name__}")
        try:
            TASKS[self.task].resolve(**self.task_settings)
        except TypeError as error:
            raise ValueError(str(error)) from None
        for name in ("hidden_size", "num_hidden_layers", "state_size", "blocks", "batch_size", "epochs",
                     "eval_batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("max_train_samples", "max_eval_samples", "stop_after_epochs", "max_steps", "num_threads", "log_every"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
        if self.mixed_precision is not None and self.mixed_precision not in MIXED_PRECISION:
            raise ValueError(f"mixed_precision must be one of {list(MIXED_PRECISION)}, got {self.mixed_precision!r}")
        if not 0.0 <= self.warmup < 1.0:
            raise ValueError(f"warmup is a fraction of the steps in [0, 1), got {self.warmup}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 < self.dt_min <= self.dt_max:
            raise ValueError(f"need 0 < dt_min <= dt_max, got dt_min={self.dt_min}, dt_max={self.dt_max}")
        if self.lr <= 0 or self.ssm_lr <= 0 or self.weight_decay < 0:
            raise ValueError(f"need lr > 0, ssm_lr > 0, weight_decay >= 0; got {self.lr}, {self.ssm_lr}, "
                             f"{self.weight_decay}")
        if self.batch_size % max(1, world_size()) or self.eval_batch_size % max(1, world_size()):
            raise ValueError(f"batch_size ({self.batch_size}) and eval_batch_size ({self.eval_batch_size}) are global "
                             f"batches and must be divisible by the number of processes ({world_size()})")
        if self.output_dir is None:
            self.output_dir = f"runs/{self.family}-{self.task}"

    # ---- argparse ---------------------------------------------------------------------------------------
    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        """One ``--option`` per field (``--task-settings`` takes JSON, booleans get ``--x/--no-x``)."""
        hints = typing.get_type_hints(cls)
        for f in fields(cls):
            flag = "--" + f.name.replace("_", "-")
            kind = hints[f.name]
            default = f.default_factory() if f.default_factory is not MISSING else f.default
            help_text = f"{f.metadata.get('help', '')} (default: {default})"
            if kind is bool:
                parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=default,
                                    help=help_text)
            elif kind is dict:
                parser.add_argument(flag, dest=f.name, type=_json_dict, default=default, help=help_text)
            else:
                base = next((t for t in typing.get_args(kind) if t is not type(None)), kind)
                parser.add_argument(flag, dest=f.name, type=base, default=default, help=help_text)
        return parser

    @classmethod
    def from_namespace(cls, namespace: argparse.Namespace, parser: argparse.ArgumentParser | None = None
                       ) -> "TrainConfig":
        """Arguments from parsed options; with ``parser``, a bad value exits through ``parser.error`` (usage + message)."""
        try:
            return cls(**{f.name: getattr(namespace, f.name) for f in fields(cls)})
        except ValueError as error:
            if parser is None:
                raise
            parser.error(str(error))

    def to_dict(self) -> dict:
        return asdict(self)


def _json_dict(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r} ({error})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


# ---- building blocks --------------------------------------------------------------------------------------
def load_data(args: TrainConfig):
    """The task's DatasetDict, with train (and validation) optionally subsampled at random (seeded)."""
    from .data import load_task

    data = load_task(args.task, **args.task_settings)
    for split, limit in (("train", args.max_train_samples), ("validation", args.max_eval_samples)):
        if limit is not None and limit < len(data[split]):
            data[split] = data[split].shuffle(seed=args.seed).select(range(limit))
    return data


def build_config(args: TrainConfig, data):
    """S4DConfig/S5Config for the task's inputs and labels (``TASKS[task].config_kwargs(data)``)."""
    from .data import TASKS
    from .models import S4DConfig, S5Config

    kwargs = dict(TASKS[args.task].config_kwargs(data), hidden_size=args.hidden_size,
                  num_hidden_layers=args.num_hidden_layers, state_size=args.state_size,
                  bidirectional=args.bidirectional, norm_type=args.norm_type, prenorm=args.prenorm,
                  dropout=args.dropout, dt_min=args.dt_min, dt_max=args.dt_max)
    if args.family == "s5":
        return S5Config(blocks=args.blocks, **kwargs)
    return S4DConfig(**kwargs)


def build_model(args: TrainConfig, data):
    from .models import S4DForSequenceClassification, S5ForSequenceClassification

    model_class = S5ForSequenceClassification if args.family == "s5" else S4DForSequenceClassification
    return model_class(build_config(args, data))


def pad_token_id(task: str) -> int:
    from .data import TASKS

    pad = TASKS[task].pad_id
    return 0 if pad is None else pad


def steps_per_epoch(num_samples: int, batch_size: int) -> int:
    return math.ceil(num_samples / batch_size)


def create_optimizer_and_scheduler(model, args: TrainConfig, num_training_steps: int):
    """AdamW over ``param_groups`` (SSM lr, no decay for SSM/norm/bias) and a cosine schedule with warmup."""
    from transformers import get_cosine_schedule_with_warmup

    from .optimization import param_groups

    optimizer = torch.optim.AdamW(param_groups(model, args.lr, args.ssm_lr, args.weight_decay))
    scheduler = get_cosine_schedule_with_warmup(optimizer, int(args.warmup * num_training_steps), num_training_steps)
    return optimizer, scheduler


def epoch_loader(dataset, args: TrainConfig, epoch: int, accelerator) -> DataLoader:
    """Training batches of one epoch, shuffled by ``seed + epoch`` (so a resumed run sees the same order)."""
    from .collate import collate_sequences

    generator = torch.Generator().manual_seed(args.seed * 1_000_003 + epoch)
    order = torch.randperm(len(dataset), generator=generator).tolist()
    loader = DataLoader(dataset, batch_size=args.batch_size, sampler=order,
                        collate_fn=partial(collate_sequences, pad_token_id=pad_token_id(args.task)))
    from accelerate.data_loader import prepare_data_loader

    return prepare_data_loader(loader, accelerator.device, num_processes=accelerator.num_processes,
                               process_index=accelerator.process_index, split_batches=True,
                               put_on_device=True, even_batches=True)


class TrainerState:
    """Epoch counter, best validation score and history; checkpointed with ``accelerator.save_state``."""

    def __init__(self):
        self.epoch = 0
        self.global_step = 0
        self.best_validation_accuracy = -1.0
        self.best_epoch = None
        self.history: list[dict] = []

    def state_dict(self) -> dict:
        return dict(vars(self))

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value)


def train_one_epoch(model, loader, optimizer, scheduler, accelerator, args, state: TrainerState) -> dict:
    """One pass over ``loader``; returns mean training loss (averaged over processes) and timing."""
    from tqdm.auto import tqdm

    model.train()
    total, count, start = torch.zeros((), dtype=torch.float64), 0, time.perf_counter()
    steps = len(loader) if hasattr(loader, "__len__") else None
    if steps is not None and args.max_steps is not None:  # the bar ends where the step budget stops the epoch
        steps = max(min(steps, args.max_steps - state.global_step), 0)
    bar = tqdm(loader, desc=f"epoch {state.epoch + 1}/{args.epochs}", leave=False, total=steps,
               disable=not (args.progress and accelerator.is_main_process))
    for batch in bar:
        if args.max_steps is not None and state.global_step >= args.max_steps:
            break
        loss = model(**batch).loss
        accelerator.backward(loss)
        if args.max_grad_norm is not None:
            accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        state.global_step += 1
        total += loss.detach().double().cpu()
        count += 1
        bar.set_postfix(loss=f"{loss.item():.4f}")
        if args.log_every and count % args.log_every == 0:
            accelerator.print(f"  step {state.global_step}: loss {loss.item():.4f}, "
                              f"{(time.perf_counter() - start) / count:.3f} s/step", flush=True)
    seconds = time.perf_counter() - start
    mean = accelerator.reduce(torch.stack([total, torch.tensor(float(count), dtype=torch.float64)])
                              .to(accelerator.device), reduction="sum")
    return {"train_loss": float(mean[0] / max(mean[1], 1)), "steps": count, "train_time_s": seconds,
            "seconds_per_step": seconds / max(count, 1)}


def evaluate(model, dataset, args: TrainConfig, accelerator, step_rescale=None) -> float:
    from .evaluation import evaluate_accuracy

    return evaluate_accuracy(model, dataset, args.eval_batch_size, accelerator, step_rescale=step_rescale,
                             pad_token_id=pad_token_id(args.task))["accuracy"]


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")


def write_model_card(model, folder: Path, args: TrainConfig, test_accuracy: float | None) -> None:
    """README.md next to the weights, rendered by ``hf_last.hub.render_card`` (the base-model card)."""
    from .hub import Evaluation, render_card

    protocol = (f"trained with hf_last.training ({args.epochs} epochs, batch {args.batch_size}, lr {args.lr}, "
                f"ssm lr {args.ssm_lr}"
                + (f", {args.max_train_samples} training samples" if args.max_train_samples else "")
                + "); checkpoint with the best validation accuracy, evaluated on the full test split")
    evaluation = Evaluation(dataset_name=f"hf_last {args.task}", dataset_type=f"hf_last/{args.task}",
                            protocol=protocol, accuracy_before=test_accuracy, dataset_split="test")
    name = folder.parent.name if folder.name == BEST_DIR else folder.name
    render_card(model, f"hf_last/{name}", evaluation=evaluation, task=args.task).save(folder / "README.md")


def metrics_payload(args, state: TrainerState, extra: dict) -> dict:
    return {"arguments": args.to_dict(), "epochs_completed": state.epoch, "global_step": state.global_step,
            "best_epoch": state.best_epoch, "best_validation_accuracy": state.best_validation_accuracy,
            "history": state.history, **extra}


def final_evaluation(model_class, args: TrainConfig, data, accelerator) -> tuple[dict, object]:
    """Test accuracy (and the task's extra splits, e.g. speech ``test_8khz`` at step_rescale 2) of best/."""
    from .data import TASKS

    best = model_class.from_pretrained(Path(args.output_dir) / BEST_DIR)
    results = {"test_accuracy": evaluate(best, data["test"], args, accelerator)}
    for split, kwargs in TASKS[args.task].eval_splits.items():
        if split in data:
            results[f"{split}_accuracy"] = evaluate(best, data[split], args, accelerator, **kwargs)
            results[f"{split}_settings"] = kwargs
    return results, best


# ---- the loop ---------------------------------------------------------------------------------------------
def train(args: TrainConfig) -> dict:
    """Train, validate every epoch, keep the best checkpoint, evaluate it on test. Returns the final metrics."""
    from accelerate.utils import set_seed

    if args.num_threads is not None:
        torch.set_num_threads(args.num_threads)
    wall_start = time.perf_counter()
    accelerator = get_accelerator(mixed_precision=args.mixed_precision)
    output_dir = Path(args.output_dir)
    last_dir = output_dir / LAST_DIR
    if args.resume and not (last_dir / "trainer_state.json").exists():
        raise FileNotFoundError(f"--resume: no checkpoint at {last_dir} (run without --resume first)")
    set_seed(args.seed)
    data = load_data(args)
    model = build_model(args, data)
    total_steps = args.epochs * steps_per_epoch(len(data["train"]), args.batch_size)
    optimizer, scheduler = create_optimizer_and_scheduler(model, args, total_steps)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    state = TrainerState()
    accelerator.register_for_checkpointing(state)
    if args.resume:
        accelerator.load_state(str(last_dir))
        accelerator.print(f"resumed from {last_dir} after epoch {state.epoch} (step {state.global_step})")
    model_class = type(accelerator.unwrap_model(model))
    info = {"num_parameters": accelerator.unwrap_model(model).num_parameters(),
            "num_train_samples": len(data["train"]), "num_validation_samples": len(data["validation"]),
            "num_processes": accelerator.num_processes, "torch_threads": torch.get_num_threads(),
            "mixed_precision": accelerator.mixed_precision}
    stop_at = args.epochs if args.stop_after_epochs is None else min(args.epochs, state.epoch + args.stop_after_epochs)
    while state.epoch < stop_at and (args.max_steps is None or state.global_step < args.max_steps):
        epoch_start = time.perf_counter()
        loader = epoch_loader(data["train"], args, state.epoch, accelerator)
        record = train_one_epoch(model, loader, optimizer, scheduler, accelerator, args, state)
        record["validation_accuracy"] = evaluate(model, data["validation"], args, accelerator)
        state.epoch += 1
        record.update(epoch=state.epoch, lr=scheduler.get_last_lr()[-1], epoch_time_s=time.perf_counter() - epoch_start)
        state.history.append(record)
        # Ties go to the later epoch: once validation accuracy saturates (e.g. 100 % on a small split) the best
        # checkpoint follows the schedule to its end instead of freezing at the first epoch that reached it.
        improved = record["validation_accuracy"] >= state.best_validation_accuracy
        if improved:
            state.best_validation_accuracy, state.best_epoch = record["validation_accuracy"], state.epoch
            if accelerator.is_main_process:
                accelerator.unwrap_model(model).save_pretrained(output_dir / BEST_DIR)
        accelerator.save_state(str(last_dir))  # writes on the main process only
        if accelerator.is_main_process:
            write_json(last_dir / "trainer_state.json", state.state_dict())
            write_json(output_dir / METRICS_FILE, metrics_payload(args, state, {**info, "finished": False}))
        accelerator.print(f"epoch {state.epoch}: loss {record['train_loss']:.4f}, "
                          f"validation accuracy {record['validation_accuracy']:.4f}"
                          f"{' (best)' if improved else ''}, {record['epoch_time_s']:.1f} s", flush=True)
        accelerator.wait_for_everyone()
    finished = state.epoch >= args.epochs
    extra = {**info, "finished": finished}
    if state.best_epoch is not None:
        accelerator.wait_for_everyone()
        results, best = final_evaluation(model_class, args, data, accelerator)
        extra.update(results)
        if accelerator.is_main_process:
            write_model_card(best, output_dir / BEST_DIR, args, results["test_accuracy"])
    extra["wall_time_s"] = time.perf_counter() - wall_start  # of this invocation (a resumed run adds up)
    payload = metrics_payload(args, state, extra)
    if accelerator.is_main_process:
        write_json(output_dir / METRICS_FILE, payload)
        if state.best_epoch is not None:
            write_json(output_dir / BEST_DIR / METRICS_FILE, payload)
    accelerator.wait_for_everyone()
    return payload


def __getattr__(name: str):
    if name == "TrainingArguments":  # the earlier name, which read like transformers.TrainingArguments
        import warnings

        warnings.warn("hf_last.training.TrainingArguments is renamed TrainConfig (transformers.TrainingArguments is "
                      "another class); the old name will be removed", FutureWarning, stacklevel=2)
        return TrainConfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> dict:
    parser = TrainConfig.add_arguments(argparse.ArgumentParser(description="Train an S4D/S5 classifier."))
    return train(TrainConfig.from_namespace(parser.parse_args(argv), parser))
