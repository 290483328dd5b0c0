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
    task_type: str = "text-classification"
    metric_type: str = "accuracy"


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


def _eval_results(evaluation: Evaluation | None, value) -> list[EvalResult] | None:
    if evaluation is None or value is None:
        return None
    return [EvalResult(task_type=evaluation.task_type, dataset_type=evaluation.dataset_type,
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


def render_card(model, repo_id: str, *, base_model: str | None = None, base_revision: str | None = None,
                evaluation: Evaluation | None = None, siblings=(), plot: str | None = None,
                parameters_before_count: int | None = None, license: str | None = None,
                datasets: list[str] | None = None) -> ModelCard:
    """The model card of ``model`` as it will live at ``repo_id``.

    A model with ``config.pruning`` gets the pruned-variant card (base model, method and ratio, states per
    layer before -> after, parameters before -> after, evaluation before -> after), any other model the base
    card. ``siblings`` is a list of ``{"ratio": r, "repo_id": id}`` (other variants of the same base);
    ``plot`` a path inside the repo (e.g. ``accuracy_vs_ratio.png``).
    """
    config = model.config
    pruning = getattr(config, "pruning", None)
    name = repo_id.split("/")[-1]
    fam = family(config)
    states = layer_states(config)
    common = dict(
        model_name=name, repo_id=repo_id, short_name=name, family=fam.upper(), model_type=config.model_type,
        hub_url=HUB_URL, citation=CITATION, input_hint=_input_hint(config), plot=plot,
        evaluation=_evaluation_view(evaluation), siblings=list(siblings),
    )
    data = dict(library_name="transformers", model_name=name, license=license, datasets=datasets)
    if not pruning:
        data.update(tags=["state-space-model", fam, "hf_last"],
                    eval_results=_eval_results(evaluation, evaluation and evaluation.accuracy_before))
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
    base = base_model if base_model is not None else pruning.get("base_model") or None
    if base is not None and not is_hub_repo_id(base):
        base = None  # a local path: not linkable, and the Hub rejects it as base_model
    if parameters_before_count is None:
        parameters_before_count = parameters_before(model)
    method = pruning["method"]
    data.update(tags=["pruned", "structured-pruning", "state-space-model", fam, "last", "hf_last"],
                base_model=base, eval_results=_eval_results(evaluation, evaluation and evaluation.accuracy_after))
    card_data = ModelCardData(**{k: v for k, v in data.items() if v is not None})
    return ModelCard.from_template(
        card_data, template_path=str(PRUNED_TEMPLATE), base_model=base, base_revision=base_revision,
        method=method, method_description=METHOD_DESCRIPTIONS.get(method, "see hf_last.pruning"),
        score_horizon=score_horizon_text(method, pruning.get("horizon")),
        requested_ratio=pruning["requested_ratio"], achieved_ratio=float(pruning["achieved_ratio"]),
        states_total_before=sum(before), states_total_after=sum(after),
        parameters_before_text="not recorded" if parameters_before_count is None else f"{parameters_before_count:,}",
        parameters_after=model.num_parameters(),
        hf_last_version=pruning.get("hf_last_version", __version__),
        layers=[{"index": i, "before": b, "after": a, "kept": a / b if b else 0.0}
                for i, (b, a) in enumerate(zip(before, after))],
        **common)

