"""LASTPruner: scores -> PruningPlan -> a new, physically smaller model."""

from __future__ import annotations

import copy
import hashlib

import numpy as np
import torch

from .._version import __version__
from ..models.configuration_ssm import check_step_rescale
from ..models.pruning_contract import ModalSubsystems, is_prunable
from .criteria import VARIANTS, Criterion, check_horizon, get_criterion, parse_method
from .plan import PruningPlan, check_ratio, check_seed
from .search import search_ratio


class LASTPruner:
    """Layer-Adaptive STate pruning (Gwak et al., NeurIPS 2024) and its baselines for diagonal SSMs.

    Args:
        model: a transformers model whose SSM layers implement the pruning contract
            (:mod:`hf_last.models.pruning_contract`); found as ``is_prunable`` modules in ``model.modules()`` order.
        method: a registered criterion name (:data:`hf_last.pruning.METHODS`) — ``last`` (default),
            ``global_hinf``, ``uniform_hinf``, ``lamp``, ``global_magnitude``, ``uniform_magnitude``, ``random``,
            ``last_h2`` — optionally with a horizon, ``"last@64"`` / ``"last@auto"`` (= ``horizon=64`` /
            ``"auto"``), or a :class:`~hf_last.pruning.criteria.Criterion` object.
        bidirectional_score: ``"paper"`` (‖C_i‖² = ‖C1_i‖² + ‖C2_i‖²) or ``"reference"`` (the reference
            code's formula, see :func:`hf_last.pruning.criteria.hinf_scores`). Only affects H∞ methods.
        seed: seed of the ``random`` method.
        step_rescale: Δ multiplier used to discretise (default: ``model.config.step_rescale``, i.e. the rate
            the model runs at).
        horizon: ``None`` (default): the paper's scores (infinite impulse responses). An int L: the H∞/H2 methods
            score the kernel truncated to L taps, the peak gain a length-L sequence can feel
            (:func:`hf_last.pruning.criteria.geometric_gain`). ``"auto"``: L = the longest sequence of the
            evaluation data, resolved through :meth:`resolve_horizon` by the drivers that see data (sweeps,
            ``hf_last.experiments.prune_with_search``, the CLI with a task). Only for methods that use a horizon.

    Verbs: :meth:`scores` (per layer, per mode), :meth:`plan` (ratio -> :class:`PruningPlan`),
    :meth:`apply` (plan -> new model), :meth:`prune` (ratio -> new model). The input model is never mutated.

    Policies:
        - Unstable modes (Re λ_i·Δ_i ≥ 0, i.e. |λ̄_i| ≥ 1) have an infinite H∞/H2 norm: at the infinite horizon
          the H∞ and H2
          methods (``last``, ``global_hinf``, ``uniform_hinf``, ``last_h2``) raise ``ValueError`` naming the
          layer and modes, in both ``bidirectional_score`` variants. With a finite horizon their truncated
          kernels have a finite peak gain, so they are scored like any other mode (and, growing over the
          horizon, usually kept). Magnitude and random methods accept them.
        - Scores are computed in float64 whatever the model's dtype (a float64 copy of each layer).
        - NaN or infinite parameters in a prunable layer raise ``ValueError`` naming the layer and parameter.
        - Every layer keeps at least one mode; ratios count states (a conjugate pair is two states).
    """

    def __init__(self, model, method: str | Criterion = "last", bidirectional_score: str = "paper", seed: int = 0,
                 step_rescale: float | None = None, horizon: int | str | None = None):
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"LASTPruner(model) takes a torch.nn.Module (an S4D/S5 model), got {type(model).__name__}")
        name, spec_horizon = parse_method(method)
        criterion = get_criterion(name)
        horizon = check_horizon(horizon, allow_auto=True)
        if spec_horizon is not None and horizon is not None and spec_horizon != horizon:
            raise ValueError(f"method {method!r} and horizon={horizon!r} disagree; give the horizon once")
        horizon = horizon if horizon is not None else spec_horizon
        criterion.check_takes_horizon(horizon)
        if bidirectional_score not in VARIANTS:
            raise ValueError(f"bidirectional_score must be one of {list(VARIANTS)}, got {bidirectional_score!r}")
        if not any(is_prunable(m) for m in model.modules()):
            raise ValueError(f"{type(model).__name__} has no prunable layer (no module implements "
                             "modal_subsystems() and keep_modes()); nothing to prune.")
        if bidirectional_score == "reference" and horizon is not None and criterion.uses_horizon:
            raise ValueError("bidirectional_score='reference' reproduces the reference code's infinite-horizon "
                             "formula; use bidirectional_score='paper' with a horizon")
        self.model = model
        self.criterion = criterion.with_horizon(None)
        self.method = criterion.name
        self.horizon = horizon
        self.bidirectional_score = bidirectional_score
        self.seed = check_seed(seed)
        config = getattr(model, "config", None)
        self.step_rescale = check_step_rescale(step_rescale if step_rescale is not None
                                               else getattr(config, "step_rescale", 1.0))

    # ---- reading the model --------------------------------------------------------------------------
    @staticmethod
    def prunable_layers(model) -> list[torch.nn.Module]:
        return [m for m in model.modules() if is_prunable(m)]

    def subsystems(self) -> list[ModalSubsystems]:
        """Every prunable layer's modal subsystems, after checking parameters and poles are finite."""
        out = []
        for position, layer in enumerate(self.prunable_layers(self.model)):
            name = f"layer {getattr(layer, 'layer_idx', position)} ({type(layer).__name__})"
            for pname, parameter in layer.named_parameters():
                if not torch.isfinite(parameter).all():
                    raise ValueError(f"{name}: parameter {pname!r} contains NaN or inf; cannot score its modes.")
            sub = self._float64(layer).modal_subsystems(self.step_rescale)
            for field in ("Lambda_bar", "b_norm2", "c_norm2"):
                if not torch.isfinite(getattr(sub, field)).all():
                    raise ValueError(f"{name}: the discretised system has non-finite {field}; check Δ and the poles.")
            out.append(sub)
        return out

    @staticmethod
    def _float64(layer: torch.nn.Module) -> torch.nn.Module:
        """The layer itself if it is float64, else a float64 copy: scores of a float32 model are computed in
        double precision (in float32, 1 − |λ̄| underflows to 0 for slow modes, e.g. Re λ·Δ ≈ −1e-8)."""
        if all(p.dtype == torch.float64 for p in layer.parameters() if p.is_floating_point()):
            return layer
        return copy.deepcopy(layer).double()

    def resolve_horizon(self, sequence_length: int) -> LASTPruner:
        """Fix ``horizon="auto"`` to ``sequence_length`` (the longest sequence of the data); no-op otherwise."""
        if self.horizon == "auto":
            self.horizon = check_horizon(sequence_length)
        return self

    def active_criterion(self) -> Criterion:
        """The criterion at this pruner's horizon (``"auto"`` must have been resolved)."""
        if self.horizon == "auto":
            raise ValueError('horizon="auto" takes L from the evaluation data, which this pruner has not seen: '
                             "pass horizon=L (the sequence length), call resolve_horizon(L) "
                             "(hf_last.collate.longest_sequence(dataset) gives L), or use the sweeps / the CLI "
                             "with a task")
        return self.criterion.with_horizon(self.horizon)

    def _check_stability(self, subsystems: list[ModalSubsystems]) -> None:
        """At the infinite horizon every mode must decay, and decay fast enough for |λ̄| < 1 in float64."""
        if not self.active_criterion().requires_stable:
            return
        remedy = (f"so their H∞/H2 norm is infinite and method {self.method!r} cannot rank them. Use a finite "
                  "horizon (horizon=L), a magnitude or random method, or fix the model (e.g. clip_eigs=True).")
        for position, (layer, sub) in enumerate(zip(self.prunable_layers(self.model), subsystems)):
            name = f"layer {getattr(layer, 'layer_idx', position)}"
            unstable, too_slow = infinite_norm_modes(sub)
            if unstable.size:
                raise ValueError(f"{name}: modes {unstable.tolist()} are unstable (Re λ·Δ >= 0, |λ̄| >= 1), {remedy}")
            if too_slow.size:
                raise ValueError(f"{name}: modes {too_slow.tolist()} decay so slowly (Re λ·Δ = "
                                 f"{sub.decay[too_slow].tolist()}) that |λ̄| rounds to 1 in float64, {remedy}")

    # ---- verbs --------------------------------------------------------------------------------------
    def scores(self) -> list[np.ndarray]:
        """The method's final score of every stored mode, one float64 array per prunable layer.

        For S4D layers modes are (channel, mode) pairs in the layer's packed order (channel by channel).
        """
        return self._scores(self.subsystems())

    def _scores(self, subsystems: list[ModalSubsystems]) -> list[np.ndarray]:
        self._check_stability(subsystems)
        layers = [(s.Lambda_bar.detach().cpu().to(torch.complex128).numpy(),
                   s.b_norm2.detach().cpu().double().numpy(),
                   s.c_norm2.detach().cpu().double().numpy()) for s in subsystems]
        return self.active_criterion().scores(layers, self.bidirectional_score, self.seed)

    def plan(self, ratio: float) -> PruningPlan:
        """Which modes survive pruning a fraction ``ratio`` ∈ [0, 1] of the model's states."""
        ratio = check_ratio(ratio)
        subsystems = self.subsystems()
        scores = self._scores(subsystems)
        spm = [s.states_per_mode for s in subsystems]
        kept = self.criterion.allocate(scores, ratio, spm)
        return PruningPlan(method=self.method, requested_ratio=ratio, kept_modes=[k.tolist() for k in kept],
                           modes_per_layer=[s.num_modes for s in subsystems], states_per_mode=spm,
                           bidirectional_score=self.bidirectional_score, seed=self.seed, horizon=self.horizon,
                           base_model=str(getattr(getattr(self.model, "config", None), "_name_or_path", "") or ""),
                           fingerprint=model_fingerprint(self.prunable_layers(self.model)))

    def apply(self, plan: PruningPlan, ignore_fingerprint: bool = False):
        """A deep copy of the model with only the plan's modes, a rewritten config and ``config.pruning``.

        A plan records the fingerprint of the model it scored; a plan made for another model (other weights, even
        of the same shape) is refused unless ``ignore_fingerprint=True`` says that is intended.
        """
        if not isinstance(plan, PruningPlan):
            raise TypeError(f"apply() takes a PruningPlan, got {type(plan).__name__}")
        self._check_plan_fits(plan)
        if not ignore_fingerprint:
            self._check_fingerprint(plan)
        pruned = copy.deepcopy(self.model)
        layer_entries = {}
        for position, (layer, kept) in enumerate(zip(self.prunable_layers(pruned), plan.kept_modes)):
            entry = layer.keep_modes(torch.tensor(kept, dtype=torch.long))
            layer_entries[getattr(layer, "layer_idx", position)] = entry
        if getattr(pruned, "config", None) is not None:
            self._rewrite_config(pruned, layer_entries, plan)
        pruned.pruning_plan = plan  # travels with the model to push_to_hub (pruning_plan.json)
        return pruned

    def prune(self, ratio: float):
        """``apply(plan(ratio))``: a new model with a fraction ``ratio`` of the states removed."""
        return self.apply(self.plan(ratio))

    def search(self, evaluate, max_accuracy_loss: float = 0.01, return_result: bool = False, finetune=None):
        """The pruned model at the largest ratio whose accuracy ``evaluate(model) -> float`` is within
        ``max_accuracy_loss`` (a fraction: 0.01 = 1 point) of the dense model's.

        Bisection over the kept-state count (see :mod:`hf_last.pruning.search`). For accuracy on a dataset,
        data-parallel with accelerate, pass ``hf_last.evaluation.accuracy_on(eval_dataset)``: under
        ``accelerate launch`` / ``torchrun`` with N processes all ranks then return the same model as one
        process would. ``return_result=True`` returns the :class:`~hf_last.pruning.search.SearchResult`
        (model, ratio, trials). ``finetune(model) -> model`` (e.g. a recovery fine-tune, see
        :func:`hf_last.recovery.recovery_finetune`) is applied to every candidate before it is evaluated: the search
        then finds the largest ratio whose fine-tuned accuracy is within the tolerance, and returns that model.
        """
        if not callable(evaluate):
            raise TypeError(f"search() takes evaluate(model) -> accuracy, got a {type(evaluate).__name__}; for a "
                            "dataset pass hf_last.evaluation.accuracy_on(dataset)")
        result = search_ratio(self, evaluate, max_accuracy_loss, finetune=finetune)
        return result if return_result else result.model

    # ---- helpers ------------------------------------------------------------------------------------
    def _check_plan_fits(self, plan: PruningPlan) -> None:
        layers = self.prunable_layers(self.model)
        if plan.num_layers != len(layers):
            raise ValueError(f"the plan has {plan.num_layers} layers, the model has {len(layers)} prunable layers")
        subsystems = [layer.modal_subsystems(self.step_rescale) for layer in layers]
        for position, (sub, modes, spm) in enumerate(zip(subsystems, plan.modes_per_layer, plan.states_per_mode)):
            if sub.num_modes != modes or sub.states_per_mode != spm:
                raise ValueError(f"layer {position}: the plan was made for {modes} modes x {spm} states, the model "
                                 f"has {sub.num_modes} x {sub.states_per_mode}; make a new plan for this model.")

    def _check_fingerprint(self, plan: PruningPlan) -> None:
        if plan.fingerprint is None:  # a plan written before fingerprints, or built by hand
            return
        fingerprint = model_fingerprint(self.prunable_layers(self.model))
        if fingerprint != plan.fingerprint:
            raise ValueError(f"the plan was made for another model (fingerprint {plan.fingerprint}, this model's is "
                             f"{fingerprint}): its modes were ranked on other weights. Make a new plan for this model "
                             "(LASTPruner(model).plan(ratio)), or pass apply(plan, ignore_fingerprint=True) to apply "
                             "it anyway.")

    def _rewrite_config(self, pruned, layer_entries: dict[int, dict], plan: PruningPlan) -> None:
        old = pruned.config
        data = old.to_dict()
        overrides = {int(k): dict(v) for k, v in (data.get("per_layer_config") or {}).items()}
        for layer_idx, entry in layer_entries.items():
            overrides.setdefault(int(layer_idx), {}).update(entry)
        for entry in overrides.values():  # keep only what differs from the global value
            for key in [k for k, v in entry.items() if k in data and data[k] == v]:
                del entry[key]
        overrides = {k: v for k, v in sorted(overrides.items()) if v}
        metadata = {
            "method": plan.method,
            "requested_ratio": plan.requested_ratio,
            "achieved_ratio": plan.achieved_ratio,
            "base_model": str(getattr(old, "_name_or_path", "") or ""),
            "states_per_layer_before": plan.states_before,
            "states_per_layer_after": plan.states_after,
            "bidirectional_score": plan.bidirectional_score,
            "seed": plan.seed,
            "horizon": plan.horizon,
            "hf_last_version": __version__,
        }
        if getattr(old, "pruning", None):
            metadata["previous"] = old.pruning
        data["per_layer_config"] = overrides or None
        data["pruning"] = metadata
        new = type(old)(**data)
        for module in pruned.modules():  # the classifier and its backbone share one config object
            if getattr(module, "config", None) is old:
                module.config = new


def infinite_norm_modes(sub: ModalSubsystems) -> tuple[np.ndarray, np.ndarray]:
    """(modes that do not decay, modes that decay too slowly for float64) of one layer; both have an infinite
    H∞/H2 norm in the scores. Decay is the sign of Re λ·Δ when the layer gives it (exact: a pole on the
    imaginary axis may round to |λ̄| = 1 − 1e-16 and would otherwise be scored ~1e32), else |λ̄| < 1."""
    on_or_outside = np.abs(sub.Lambda_bar.detach().cpu().to(torch.complex128).numpy()) >= 1
    if sub.decay is None:
        return np.flatnonzero(on_or_outside), np.array([], dtype=np.int64)
    decay = sub.decay.detach().cpu().double().numpy()
    return np.flatnonzero(decay >= 0), np.flatnonzero((decay < 0) & on_or_outside)


def model_fingerprint(layers: list[torch.nn.Module]) -> str:
    """``"sha256:"`` + 16 hex digits of the prunable layers' tensors (names, shapes, values as float64/int64):
    what a plan's scores were computed from. Equal for a model and its copies (any dtype that holds the values),
    different for other weights of the same shapes."""
    digest = hashlib.sha256()
    for position, layer in enumerate(layers):
        for name, tensor in layer.state_dict().items():
            values = tensor.detach().cpu()
            values = values.double() if values.is_floating_point() else values.long()
            digest.update(f"{position}.{name}{tuple(values.shape)}".encode())
            digest.update(values.contiguous().numpy().tobytes())
    return "sha256:" + digest.hexdigest()[:16]
