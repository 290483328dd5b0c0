"""Model cards for base and pruned hf_last models, rendered through ``huggingface_hub.ModelCard``.

The canonical templates live in ``hf_last/hub/templates`` (package data, so an installed package finds
them); ``model_cards/README.md`` at the repository root points there.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .._version import __version__
from ..pruning.criteria import CRITERIA

TEMPLATES = Path(__file__).parent / "templates"
BASE_TEMPLATE = TEMPLATES / "base_model_card.md"
PRUNED_TEMPLATE = TEMPLATES / "pruned_model_card.md"
HUB_URL = "https://huggingface.co"

CITATION = """@inproceedings{gwak2024layer,
  title     = {Layer-Adaptive State Pruning for Deep State Space Models},
  author    = {Gwak, Minseon and Moon, Seongrok and Ko, Joohwan and Park, PooGyeon},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year      = {2024},
  eprint    = {2411.02824},
  archivePrefix = {arXiv}
}"""

METHOD_DESCRIPTIONS = {
    "last": "LAST: layer-adaptive H-infinity scores, Gwak et al., NeurIPS 2024",
    "last_h2": "LAST with H2 instead of H-infinity subsystem norms",
    "global_hinf": "global ranking of H-infinity subsystem norms",
    "uniform_hinf": "the same fraction of states per layer, ranked by H-infinity norm",
    "lamp": "LAMP-normalised magnitude scores",
    "global_magnitude": "global ranking of parameter magnitudes",
    "uniform_magnitude": "the same fraction of states per layer, ranked by magnitude",
    "random": "random states (baseline)",
}

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")

DEFAULT_LICENSE = "apache-2.0"  # hf_last's own license: the shipped checkpoints and everything hf_last trains


@dataclass(frozen=True)
class CardTask:
    """What a card's front matter says about the task a model was trained on.

    ``pipeline_tag`` is the Hub task the problem belongs to: the image tasks are image classification even though
    the model reads an image as a sequence of pixels (``input_values``, one pixel per step) and transformers'
    ``image-classification`` pipeline, which needs an image processor, does not apply. ``datasets`` are Hub dataset
    ids where the data is a Hub dataset; otherwise ``hf_last/<task>`` names the offline generator
    ``hf_last.data.load_task(<task>)`` (the card's body says so).
    """

    pipeline_tag: str
    datasets: tuple[str, ...]
    tags: tuple[str, ...] = ()
    source: str = ""


CARD_TASKS = {
    "digits": CardTask("image-classification", ("hf_last/digits",), ("sequential-image-classification",),
                       "scikit-learn's 8x8 handwritten digits read pixel by pixel (64 steps)"),
    "sfashion": CardTask("image-classification", ("zalando-datasets/fashion_mnist",),
                         ("sequential-image-classification",), "Fashion-MNIST read pixel by pixel (784 steps)"),
    "psfashion": CardTask("image-classification", ("zalando-datasets/fashion_mnist",),
                          ("sequential-image-classification",),
                          "Fashion-MNIST read pixel by pixel in a fixed permuted order (784 steps)"),
    "pathfinder": CardTask("image-classification", ("hf_last/pathfinder",), ("sequential-image-classification",),
                           "generated Pathfinder images read pixel by pixel"),
    "speech": CardTask("audio-classification", ("hf_last/speech",), (),
                       "spoken words synthesised offline with espeak-ng, as raw waveforms"),
    "listops": CardTask("text-classification", ("hf_last/listops",), (), "generated ListOps token sequences"),
}


def card_task(task: str | None) -> CardTask | None:
    """The :class:`CardTask` of an hf_last task name (``"digits"`` or ``"hf_last/digits"``), None if unknown."""
    if task is None:
        return None
    return CARD_TASKS.get(task.removeprefix("hf_last/"))


@dataclass
class Evaluation:
    """How a model was evaluated, for the card's table and its ``model-index``.

    ``accuracy_before`` is the base model's score and ``accuracy_after`` the described model's (leave either
    None when unknown). Values are fractions in [0, 1]; cards print them as percentages.
    """

    dataset_name: str
    dataset_type: str
    protocol: str
    accuracy_before: float | None = None
    accuracy_after: float | None = None
    dataset_split: str | None = "test"
    dataset_config: str | None = None
    task_type: str | None = None  # the Hub task of model-index; None: from the task (CARD_TASKS) or the inputs
    metric_type: str = "accuracy"

    @property
    def task(self) -> str | None:
        """The hf_last task evaluated on, when ``dataset_type`` (or ``dataset_name``) names one."""
        for name in (self.dataset_type, self.dataset_name):
            if card_task(name) is not None:
                return name.removeprefix("hf_last/")
        return None


def is_hub_repo_id(value) -> bool:
    return isinstance(value, str) and bool(_REPO_ID.match(value)) and not Path(value).exists()


def family(config) -> str:
    """``"s5"`` or ``"s4d"`` from the namespaced model_type ``last_s5`` / ``last_s4d``."""
    return config.model_type.removeprefix("last_")


def layer_states(config) -> list[int]:
    """Total states per layer (S4D: summed over channels), as the pruner counts them."""
    if hasattr(config, "channel_sizes"):
        return [sum(config.channel_sizes(i)) for i in range(config.num_hidden_layers)]
    return config.layer_state_sizes()


def _unpruned_config(config):
    """The config of the model before the last pruning: same shapes except the per-layer state counts.

    Parameter counts depend only on each layer's total number of stored modes, so the S4D channel split
    chosen here (as even as possible) does not change the count.
    """
    data = copy.deepcopy(config.to_dict())
    before = config.pruning["states_per_layer_before"]
    spm = config.states_per_mode
    overrides = {}
    for index, states in enumerate(before):
        if hasattr(config, "channel_sizes"):
            modes, width = states // spm, config.hidden_size
            sizes = [(modes // width + (c < modes % width)) * spm for c in range(width)]
            overrides[index] = {"state_size": max(sizes), "channel_state_sizes": sizes}
        else:
            overrides[index] = {"state_size": states}
    data["per_layer_config"] = overrides
    data["pruning"] = None
    if "blocks" in data:
        data["blocks"] = 1
    return type(config)(**data)


def parameters_before(model) -> int | None:
    """Parameter count of the unpruned model, rebuilt on the meta device from ``config.pruning``."""
    pruning = getattr(model.config, "pruning", None)
    if not pruning:
        return model.num_parameters()
    try:
        config = _unpruned_config(model.config)
        with torch.device("meta"):
            return type(model)(config).num_parameters()
    except Exception:  # an unusual config: say "not recorded" rather than print a wrong number
        return None


def _evaluation_view(evaluation: Evaluation | None):
    if evaluation is None:
        return None

    def text(value):
        return "not measured" if value is None else f"{value * 100:.2f}%"

    return {
        "metric_label": evaluation.metric_type.replace("_", " ").capitalize(),
        "before_text": text(evaluation.accuracy_before),
        "after_text": text(evaluation.accuracy_after),
        "protocol": evaluation.protocol,
        "dataset_name": evaluation.dataset_name,
        "dataset_split": evaluation.dataset_split,
    }


def _eval_results(evaluation: Evaluation | None, value, task_type: str) -> list[EvalResult] | None:
    if evaluation is None or value is None:
        return None
    return [EvalResult(task_type=evaluation.task_type or task_type, dataset_type=evaluation.dataset_type,
                       dataset_name=evaluation.dataset_name, dataset_split=evaluation.dataset_split,
                       dataset_config=evaluation.dataset_config, metric_type=evaluation.metric_type,
                       metric_name=evaluation.metric_type, metric_value=round(float(value), 6))]


def _input_hint(config) -> str:
    if config.vocab_size:
        return f"Inputs: token ids `input_ids` of shape (batch, length), vocabulary of {config.vocab_size}."
    return (f"Inputs: `input_values` of shape (batch, length, {config.input_size}); "
            "`attention_mask` marks right padding.")


def score_horizon_text(method: str, horizon: int | None) -> str | None:
    """How far the H∞/H2 scores of ``method`` looked (None for criteria without a horizon)."""
    if method not in CRITERIA or not CRITERIA[method].uses_horizon:
        return None
    if horizon is None:
        return "infinite (the paper's scores: each mode's whole impulse response)"
    return f"{horizon} steps (finite-horizon scores: each mode's kernel truncated to the sequence length)"


def _front_matter(config, name: str, task: str | None, license: str | None, datasets) -> tuple[dict, CardTask | None]:
    """The front matter shared by both cards, and the task it describes (None when unknown)."""
    described = card_task(task)
    data = dict(library_name="transformers", model_name=name, license=license or DEFAULT_LICENSE,
                datasets=list(datasets) if datasets is not None else (list(described.datasets) if described else None),
                pipeline_tag=described.pipeline_tag if described else ("text-classification" if config.vocab_size
                                                                         else None))
    return data, described


def _task_view(task: str | None, described: CardTask | None):
    if described is None:
        return None
    local = [d for d in described.datasets if d.startswith("hf_last/")]
    return {"name": task.removeprefix("hf_last/"), "source": described.source, "pipeline_tag": described.pipeline_tag,
            "generated": bool(local)}


def _base_text(recorded: str | None, linked: str | None) -> str | None:
    """How the card names a base model that is not a Hub repo (a local folder): its name, unlinked."""
    if linked or not recorded:
        return None
    return Path(str(recorded).rstrip("/")).name or str(recorded)


def recovery_view(pruning: dict) -> dict | None:
    """What the card says about fine-tuning after pruning, from ``config.pruning``: ``{"kind", "steps": [...],
    "optimizer_steps", "wall_time_s"}`` for a recovery (``"recovery"``) or an iterative schedule (``"history"``),
    None for a one-shot model."""
    if pruning.get("history"):
        rows = []
        for index, step in enumerate(pruning["history"], start=1):
            recovery = step.get("recovery") or {}
            rows.append({"index": index, "states_before": sum(step["states_per_layer_before"]),
                         "states_after": sum(step["states_per_layer_after"]), "budget": recovery.get("budget", "none"),
                         "optimizer_steps": recovery.get("optimizer_steps", 0),
                         "wall_time_s": recovery.get("wall_time_s", 0.0),
                         "before": recovery.get("validation_accuracy_before"),
                         "after": recovery.get("validation_accuracy_after")})
        return {"kind": "iterative", "steps": rows, "optimizer_steps": sum(r["optimizer_steps"] for r in rows),
                "wall_time_s": sum(r["wall_time_s"] for r in rows)}
    recovery = pruning.get("recovery")
    if not recovery:
        return None
    row = {"index": 1, "states_before": sum(pruning["states_per_layer_before"]),
           "states_after": sum(pruning["states_per_layer_after"]), "budget": recovery["budget"],
           "optimizer_steps": recovery["optimizer_steps"], "wall_time_s": recovery["wall_time_s"],
           "before": recovery["validation_accuracy_before"], "after": recovery["validation_accuracy_after"]}
    return {"kind": "one-shot", "steps": [row], "optimizer_steps": row["optimizer_steps"],
            "wall_time_s": row["wall_time_s"]}


def render_card(model, repo_id: str, *, base_model: str | None = None, base_revision: str | None = None,
                evaluation: Evaluation | None = None, siblings=(), plot: str | None = None,
                parameters_before_count: int | None = None, license: str | None = None,
                datasets: list[str] | None = None, task: str | None = None) -> ModelCard:
    """The model card of ``model`` as it will live at ``repo_id``.

    A model with ``config.pruning`` gets the pruned-variant card (base model, method and ratio, states per
    layer before -> after, parameters before -> after, evaluation before -> after), any other model the base
    card. ``siblings`` is a list of ``{"ratio": r, "repo_id": id}`` (other variants of the same base);
    ``plot`` a path inside the repo (e.g. ``accuracy_vs_ratio.png``).

    Front matter: ``library_name``, ``license`` (default ``apache-2.0``, hf_last's; pass the base model's license
    when pruning someone else's model), ``datasets`` and ``pipeline_tag`` from ``task`` (an hf_last task name,
    default: the one ``evaluation.dataset_type`` names; see :data:`CARD_TASKS`), tags, ``base_model`` for a pruned
    model whose base is a Hub repo (with the ``pruned`` tag; no ``base_model_relation``: the Hub's values are
    adapter, merge, quantized and finetune, none of which is a pruned derivative), and a ``model-index`` whenever
    the evaluation has the described model's score.
    """
    config = model.config
    pruning = getattr(config, "pruning", None)
    name = repo_id.split("/")[-1]
    fam = family(config)
    states = layer_states(config)
    if task is None and evaluation is not None:
        task = evaluation.task
    data, described = _front_matter(config, name, task, license, datasets)
    task_type = data["pipeline_tag"] or "text-classification"
    task_tags = list(described.tags) if described else []
    common = dict(
        model_name=name, repo_id=repo_id, short_name=name, family=fam.upper(), model_type=config.model_type,
        hub_url=HUB_URL, citation=CITATION, input_hint=_input_hint(config), plot=plot,
        evaluation=_evaluation_view(evaluation), siblings=list(siblings), task=_task_view(task, described),
    )
    if not pruning:
        data.update(tags=["state-space-model", fam, "hf_last", *task_tags],
                    eval_results=_eval_results(evaluation, evaluation and evaluation.accuracy_before, task_type))
        card_data = ModelCardData(**{k: v for k, v in data.items() if v is not None})
        return ModelCard.from_template(
            card_data, template_path=str(BASE_TEMPLATE), num_layers=config.num_hidden_layers,
            hidden_size=config.hidden_size, states_total=sum(states), parameters=model.num_parameters(),
            layers=[{"index": i, "before": n} for i, n in enumerate(states)], **common)

    before = list(pruning["states_per_layer_before"])
    after = list(pruning["states_per_layer_after"])
    if after != states:
        raise ValueError(f"config.pruning says states_per_layer_after={after} but the model has {states}; "
                         "the pruning metadata does not describe this model")
    recorded = base_model if base_model is not None else pruning.get("base_model") or None
    base = recorded if recorded is not None and is_hub_repo_id(recorded) else None
    # a local path is not linkable, and the Hub rejects it as base_model: the body names it instead
    if parameters_before_count is None:
        parameters_before_count = parameters_before(model)
    method = pruning["method"]
    data.update(tags=["pruned", "structured-pruning", "state-space-model", fam, "last", "hf_last", *task_tags],
                base_model=base,
                eval_results=_eval_results(evaluation, evaluation and evaluation.accuracy_after, task_type))
    card_data = ModelCardData(**{k: v for k, v in data.items() if v is not None})
    return ModelCard.from_template(
        card_data, template_path=str(PRUNED_TEMPLATE), base_model=base, base_revision=base_revision,
        base_text=_base_text(recorded, base),
        method=method, method_description=METHOD_DESCRIPTIONS.get(method, "see hf_last.pruning"),
        score_horizon=score_horizon_text(method, pruning.get("horizon")),
        requested_ratio=pruning["requested_ratio"], achieved_ratio=float(pruning["achieved_ratio"]),
        states_total_before=sum(before), states_total_after=sum(after),
        parameters_before_text="not recorded" if parameters_before_count is None else f"{parameters_before_count:,}",
        parameters_after=model.num_parameters(),
        hf_last_version=pruning.get("hf_last_version", __version__), recovery=recovery_view(pruning),
        layers=[{"index": i, "before": b, "after": a, "kept": a / b if b else 0.0}
                for i, (b, a) in enumerate(zip(before, after))],
        **common)

