"""Pruning criteria: per-mode importance and its allocation across layers (pure numpy functions).

Every layer l is a diagonal discrete-time system whose stored mode i is the first-order subsystem
G_i(z) = C_i B̄_i / (z − λ̄_i) (see :mod:`hf_last.models.pruning_contract`). Criteria see only the arrays of
:class:`~hf_last.models.pruning_contract.ModalSubsystems`: λ̄_i, ‖B̄_i‖², ‖C_i‖² per direction.

Importance (one score per stored mode):

- :func:`hinf_scores`      h_i = ‖C_i‖² ‖B̄_i‖² / (1 − |λ̄_i|)²   (squared H∞ norm of G_i)
- :func:`h2_scores`        ‖C_i‖² ‖B̄_i‖² / (1 − |λ̄_i|²)         (squared H2 norm of G_i)
- :func:`magnitude_scores` |λ̄_i| ‖B̄_i‖ ‖C_i‖
- :func:`random_scores`    i.i.d. uniform, seeded

Horizon (our extension, not in the paper). A model that runs on sequences of length L applies only the first
L taps of a mode's kernel C_i B̄_i λ̄_i^l. With ``horizon=L`` the H∞ and H2 scores are those of the truncated
kernel: the infinite-response factors 1/(1 − |λ̄_i|) and 1/(1 − |λ̄_i|²) become :func:`geometric_gain` and
:func:`geometric_energy`. ``horizon=None`` is the paper's score, unchanged.

Normalisation: :func:`last_normalise` (LAST / LAMP): within a layer, sorted descending,
score_(i) / Σ_{j ≤ i} score_(j).

Allocation (which modes survive a ratio r): :func:`global_allocation` (one threshold over the pooled
scores of all layers) and :func:`uniform_allocation` (the same ratio in every layer). Both count in
*states* (a stored conjugate-pair mode is two states, removed together), break ties deterministically
(higher score first, then lower layer index, then lower mode index) and keep at least one mode per layer.

Bidirectional layers. A bidirectional layer has one pole set and input matrix and two output matrices
C1 (forward scan) and C2 (backward scan). We read the paper's ‖C_i‖ as the norm of the mode's stacked
output column [C1_i; C2_i], so ‖C_i‖² = ‖C1_i‖² + ‖C2_i‖²: the H∞ norm of the single-input, two-output
subsystem z ↦ [C1_i; C2_i] B̄_i / (z − λ̄_i). ``variant="reference"`` reproduces the reference code
(github.com/msgwak/LAST, ``s5/ssm.py``) exactly instead.

Criteria are :class:`Criterion` objects (importance + normalisation + allocation + horizon) in the registry
:data:`CRITERIA` (alias :data:`METHODS`); :func:`register_criterion` adds one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

VARIANTS = ("paper", "reference")


def _as_arrays(Lambda_bar, b_norm2, c_norm2):
    Lambda_bar = np.asarray(Lambda_bar, dtype=np.complex128)
    b_norm2 = np.asarray(b_norm2, dtype=np.float64)
    c_norm2 = np.atleast_2d(np.asarray(c_norm2, dtype=np.float64))
    if not (Lambda_bar.ndim == b_norm2.ndim == 1 and c_norm2.shape[1:] == Lambda_bar.shape == b_norm2.shape):
        raise ValueError(f"expected Lambda_bar (M,), b_norm2 (M,), c_norm2 (directions, M); got "
                         f"{Lambda_bar.shape}, {b_norm2.shape}, {c_norm2.shape}")
    return Lambda_bar, b_norm2, c_norm2


def unstable_modes(Lambda_bar) -> np.ndarray:
    """Indices i with |λ̄_i| ≥ 1 (on or outside the unit circle: infinite H∞ and H2 norm)."""
    return np.flatnonzero(np.abs(np.asarray(Lambda_bar, dtype=np.complex128)) >= 1)


def _require_stable(Lambda_bar: np.ndarray, criterion: str) -> None:
    bad = unstable_modes(Lambda_bar)
    if bad.size:
        raise ValueError(f"{criterion} is infinite for modes with |λ̄| >= 1; unstable modes {bad.tolist()} "
                         f"(|λ̄| = {np.abs(Lambda_bar[bad]).tolist()})")


def geometric_gain(Lambda_bar, horizon: int | None = None) -> np.ndarray:
    """Peak gain of a mode's normalised impulse response λ̄_i^l over the horizon: Σ_{l<L} |λ̄_i|^l.

    The response λ̄^l (l = 0, 1, …) has DTFT Σ_l (λ̄ e^{−jω})^l; at ω = arg λ̄ every term is the positive real
    |λ̄|^l, and the triangle inequality bounds every other ω by the same sum, so

        max_ω |Σ_{l<L} λ̄^l e^{−jωl}| = Σ_{l<L} |λ̄|^l = (1 − |λ̄|^L) / (1 − |λ̄|)   (= L when |λ̄| = 1).

    ``horizon=None`` is the infinite response, 1 / (1 − |λ̄|) (finite only for |λ̄| < 1). With a finite L the
    gain is finite for every pole, also on or outside the unit circle. Computed as −expm1(L·log1p(−g)) / g with
    g = 1 − |λ̄| (exact in floating point near the unit circle), so it equals 1 / g bit for bit once |λ̄|^L
    underflows.
    """
    gap = 1 - np.abs(np.asarray(Lambda_bar, dtype=np.complex128))
    if horizon is None:
        return 1 / gap
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        gain = -np.expm1(horizon * np.log1p(-gap)) / gap
    return np.where(gap == 0, float(horizon), gain)


def geometric_energy(Lambda_bar, horizon: int | None = None) -> np.ndarray:
    """Energy of a mode's normalised impulse response over the horizon: Σ_{l<L} |λ̄_i|^{2l}.

    = (1 − |λ̄|^{2L}) / (1 − |λ̄|²) (= L when |λ̄| = 1); ``horizon=None``: 1 / (1 − |λ̄|²).
    """
    gap = 1 - np.abs(np.asarray(Lambda_bar, dtype=np.complex128))
    gap_squared = gap * (2 - gap)  # 1 − |λ̄|², without cancellation near the unit circle
    if horizon is None:
        return 1 / gap_squared
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        energy = -np.expm1(2 * horizon * np.log1p(-gap)) / gap_squared
    return np.where(gap == 0, float(horizon), energy)


def _require_finite(scores: np.ndarray, Lambda_bar: np.ndarray, criterion: str, horizon: int) -> np.ndarray:
    bad = np.flatnonzero(~np.isfinite(scores))
    if bad.size:
        raise ValueError(f"{criterion} over horizon {horizon} overflows for modes {bad.tolist()} "
                         f"(|λ̄| = {np.abs(Lambda_bar[bad]).tolist()}: they grow too fast); use a shorter horizon")
    return scores


def hinf_scores(Lambda_bar, b_norm2, c_norm2, variant: str = "paper", horizon: int | None = None) -> np.ndarray:
    """Squared H∞ norm of every mode's subsystem G_i(z) = C_i B̄_i / (z − λ̄_i).

    ‖G_i‖∞ = max_{|z|=1} σ_max(C_i B̄_i) / |z − λ̄_i| = ‖C_i‖ ‖B̄_i‖ / (1 − |λ̄_i|), attained at z = e^{j arg λ̄_i}
    (C_i B̄_i is rank one, so σ_max = ‖C_i‖‖B̄_i‖). The score is the square

        h_i = ‖C_i‖² ‖B̄_i‖² / (1 − |λ̄_i|)²,

    with ‖C_i‖² = Σ_directions ‖C_i^(d)‖² for bidirectional layers (module docstring).

    ``horizon=L`` (finite horizon, our extension): the peak gain of the kernel truncated to the L taps a
    length-L sequence can feel, max_ω σ_max(Σ_{l<L} C_i B̄_i λ̄_i^l e^{−jωl}) = ‖C_i‖‖B̄_i‖ (1 − |λ̄_i|^L)/(1 − |λ̄_i|)
    (:func:`geometric_gain`), squared: h_i(L) = ‖C_i‖² ‖B̄_i‖² ((1 − |λ̄_i|^L)/(1 − |λ̄_i|))² → h_i as L → ∞.
    It is finite for every pole, so no mode is refused for |λ̄_i| ≥ 1.

    ``variant="reference"`` is the reference implementation's formula, reproduced verbatim:
    unidirectional ‖C_i‖² ‖B̄_i‖² / ((1 − |λ̄_i|)² + 1e-8); bidirectional
    ``(‖C1_i‖ + ‖C2_i‖) / 2**2 * ‖B̄_i‖² / ((1 − |λ̄_i|)² + 1e-8)`` = (‖C1_i‖ + ‖C2_i‖)/4 · ‖B̄_i‖² / (…),
    i.e. with the output norm *not* squared (``**`` binds before ``/``). It has no finite-horizon form.

    Raises ValueError for a mode with |λ̄_i| ≥ 1 (its H∞ norm is infinite) in the paper variant with
    ``horizon=None``; the reference variant, like the reference code, has no guard.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {list(VARIANTS)}, got {variant!r}")
    Lambda_bar, b_norm2, c_norm2 = _as_arrays(Lambda_bar, b_norm2, c_norm2)
    if variant == "reference":
        if horizon is not None:
            raise ValueError("bidirectional_score='reference' reproduces the reference code's infinite-horizon "
                             "formula; use bidirectional_score='paper' with a finite horizon")
        gap2 = (1 - np.abs(Lambda_bar)) ** 2
        if c_norm2.shape[0] == 2:
            c = (np.sqrt(c_norm2[0]) + np.sqrt(c_norm2[1])) / 2**2
        else:
            c = c_norm2.sum(0)
        return c * b_norm2 / (gap2 + 1e-8)
    if horizon is None:
        _require_stable(Lambda_bar, "The H∞ norm")
        return c_norm2.sum(0) * b_norm2 / (1 - np.abs(Lambda_bar)) ** 2
    scores = c_norm2.sum(0) * b_norm2 * geometric_gain(Lambda_bar, horizon) ** 2
    return _require_finite(scores, Lambda_bar, "The H∞ score", horizon)


def h2_scores(Lambda_bar, b_norm2, c_norm2, horizon: int | None = None) -> np.ndarray:
    """Squared H2 norm (output energy of an impulse) of every mode: ‖C_i‖² ‖B̄_i‖² / (1 − |λ̄_i|²).

    ‖G_i‖₂² = Σ_{k≥0} ‖C_i B̄_i‖_F² |λ̄_i|^{2k}; used by AIRE-Prune. Raises ValueError for |λ̄_i| ≥ 1.
    ``horizon=L`` sums the first L terms: ‖C_i‖² ‖B̄_i‖² (1 − |λ̄_i|^{2L}) / (1 − |λ̄_i|²) (finite for every pole).
    """
    Lambda_bar, b_norm2, c_norm2 = _as_arrays(Lambda_bar, b_norm2, c_norm2)
    if horizon is None:
        _require_stable(Lambda_bar, "The H2 norm")
        return c_norm2.sum(0) * b_norm2 / (1 - np.abs(Lambda_bar) ** 2)
    scores = c_norm2.sum(0) * b_norm2 * geometric_energy(Lambda_bar, horizon)
    return _require_finite(scores, Lambda_bar, "The H2 score", horizon)


def magnitude_scores(Lambda_bar, b_norm2, c_norm2) -> np.ndarray:
    """Magnitude |λ̄_i| · ‖B̄_i‖ · ‖C_i‖ (paper Table 6 baselines; ‖C_i‖ over both directions if bidirectional)."""
    Lambda_bar, b_norm2, c_norm2 = _as_arrays(Lambda_bar, b_norm2, c_norm2)
    return np.abs(Lambda_bar) * np.sqrt(b_norm2) * np.sqrt(c_norm2.sum(0))


def random_scores(num_modes: int, rng: np.random.Generator) -> np.ndarray:
    """I.i.d. U[0, 1) scores (random structured pruning); ``rng`` makes it reproducible."""
    return rng.random(num_modes)


def last_normalise(scores) -> np.ndarray:
    """LAST / LAMP normalisation of one layer's scores.

    Sort descending s_(1) ≥ s_(2) ≥ … (ties: lower mode index first) and return, in the original order,

        LAST(i) = s_(i) / Σ_{j ≤ i} s_(j),

    so the layer's top mode scores exactly 1 (unless every score is 0: 0/0 is taken as 0).
    """
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    cumulative = np.cumsum(sorted_scores)
    normalised = np.divide(sorted_scores, cumulative, out=np.zeros_like(sorted_scores), where=cumulative > 0)
    out = np.empty_like(normalised)
    out[order] = normalised
    return out


def kept_count(total_states: int, ratio: float) -> int:
    """K = max(floor(N·(1 − r)), 1): states kept out of N for a pruning ratio r.

    A 1e-9 slack absorbs float error in N·(1 − r) (10·(1 − 0.9) = 0.999… must keep 1, not 0).
    """
    return max(int(np.floor(total_states * (1 - ratio) + 1e-9)), 1)


def _check_inputs(scores: Sequence[np.ndarray], ratio: float, states_per_mode: Sequence[int]):
    if not 0 <= ratio <= 1:
        raise ValueError(f"ratio must be in [0, 1], got {ratio}")
    if len(scores) != len(states_per_mode):
        raise ValueError("need one states_per_mode entry per layer")
    scores = [np.asarray(s, dtype=np.float64) for s in scores]
    for layer, s in enumerate(scores):
        if s.ndim != 1 or s.size == 0:
            raise ValueError(f"layer {layer}: need a non-empty 1-d score array, got shape {s.shape}")
        if np.isnan(s).any():
            raise ValueError(f"layer {layer}: NaN scores at modes {np.flatnonzero(np.isnan(s)).tolist()}")
    return scores


def _ranked(scores: Sequence[np.ndarray]) -> list[tuple[int, int]]:
    """(layer, mode) pairs, highest score first; ties by layer then mode index."""
    layers = np.concatenate([np.full(s.size, l) for l, s in enumerate(scores)])
    modes = np.concatenate([np.arange(s.size) for s in scores])
    values = np.concatenate(scores)
    order = np.lexsort((modes, layers, -values))
    return list(zip(layers[order].tolist(), modes[order].tolist()))


def global_allocation(scores: Sequence[np.ndarray], ratio: float, states_per_mode: Sequence[int]) -> list[np.ndarray]:
    """Kept mode indices (sorted) per layer under one global threshold on the pooled scores.

    Keeps K = max(floor(N_total·(1 − r)), 1) states: first the top mode of every layer (so no layer is
    emptied), then modes in descending pooled score order while they fit into K — i.e. the threshold τ is
    the score of the last kept mode, with ties broken by layer then mode index. If the layers' top modes
    alone exceed K, exactly those are kept.
    """
    scores = _check_inputs(scores, ratio, states_per_mode)
    budget = kept_count(sum(s.size * n for s, n in zip(scores, states_per_mode)), ratio)
    ranked = _ranked(scores)
    kept: list[set[int]] = [set() for _ in scores]
    used = 0
    for layer, mode in ranked:  # mandatory: the best mode of every layer
        if not kept[layer]:
            kept[layer].add(mode)
            used += states_per_mode[layer]
    for layer, mode in ranked:
        if mode in kept[layer]:
            continue
        if used + states_per_mode[layer] > budget:
            break
        kept[layer].add(mode)
        used += states_per_mode[layer]
    return [np.array(sorted(k), dtype=np.int64) for k in kept]


def uniform_allocation(scores: Sequence[np.ndarray], ratio: float, states_per_mode: Sequence[int]) -> list[np.ndarray]:
    """Kept mode indices (sorted) per layer with the same ratio in every layer.

    Layer l keeps its top max(floor(M_l·(1 − r)), 1) modes (M_l stored modes; ties: lower index first).
    """
    scores = _check_inputs(scores, ratio, states_per_mode)
    kept = []
    for s in scores:
        count = kept_count(s.size, ratio)
        kept.append(np.sort(np.argsort(-s, kind="stable")[:count]).astype(np.int64))
    return kept


# ---- the registry of criteria ---------------------------------------------------------------------------
Importance = Callable[..., np.ndarray]
"""``importance(Lambda_bar, b_norm2, c_norm2, *, horizon, variant, rng) -> scores (M,)``: one layer's raw scores."""

ALLOCATIONS: dict[str, Callable[..., list[np.ndarray]]] = {"global": global_allocation, "uniform": uniform_allocation}


def check_horizon(horizon, allow_auto: bool = False):
    """``horizon`` if it is None, a positive int (not bool) or, with ``allow_auto``, ``"auto"``; else ValueError."""
    if horizon is None or (allow_auto and horizon == "auto"):
        return horizon
    if isinstance(horizon, (int, np.integer)) and not isinstance(horizon, bool) and horizon >= 1:
        return int(horizon)
    expected = 'None, a positive int or "auto"' if allow_auto else "None or a positive int"
    raise ValueError(f"horizon must be {expected} (the sequence length L the model runs on), got {horizon!r}")


@dataclass(frozen=True)
class Criterion:
    """A pruning criterion: per-mode importance, optional LAST normalisation, and an allocation rule.

    Attributes:
        name: registry key, recorded in plans and ``config.pruning``.
        importance: pure function ``(Lambda_bar, b_norm2, c_norm2, *, horizon, variant, rng) -> (M,)`` scores
            of one layer (see :data:`Importance`).
        normalise: apply :func:`last_normalise` within each layer (LAST / LAMP) before allocating.
        allocation: ``"global"`` (one threshold over all layers) or ``"uniform"`` (the same ratio per layer).
        uses_horizon: whether ``importance`` depends on the horizon (the H∞ and H2 criteria).
        horizon: the sequence length L of the finite-horizon form, None for the paper's infinite horizon.
        description: one line for model cards and ``--help``.

    A user-defined criterion is one object: ``LASTPruner(model, method=Criterion("mine", my_scores, True))``,
    or :func:`register_criterion` it to use it by name.
    """

    name: str
    importance: Importance
    normalise: bool = False
    allocation: str = "global"
    uses_horizon: bool = False
    horizon: int | None = None
    description: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"a criterion needs a non-empty string name, got {self.name!r}")
        if not callable(self.importance):
            raise TypeError(f"criterion {self.name!r}: importance must be callable, got {type(self.importance).__name__}")
        if self.allocation not in ALLOCATIONS:
            raise ValueError(f"criterion {self.name!r}: allocation must be one of {sorted(ALLOCATIONS)}, "
                             f"got {self.allocation!r}")
        check_horizon(self.horizon)
        if self.horizon is not None and not self.uses_horizon:
            raise ValueError(f"criterion {self.name!r} does not depend on a horizon; leave horizon=None")

    @property
    def requires_stable(self) -> bool:
        """True when scores are infinite for |λ̄| ≥ 1: a horizon-dependent criterion at the infinite horizon."""
        return self.uses_horizon and self.horizon is None

    def check_takes_horizon(self, horizon: int | str | None) -> None:
        """ValueError when a horizon (an int L or ``"auto"``) is asked of a criterion that does not depend on one."""
        if horizon is not None and not self.uses_horizon:
            raise ValueError(f"method {self.name!r} does not depend on a horizon (only H∞/H2 criteria do: "
                             f"{sorted(n for n, c in CRITERIA.items() if c.uses_horizon)}); pass horizon=None")

    def with_horizon(self, horizon: int | None) -> Criterion:
        """The same criterion at another horizon (None: the paper's infinite horizon)."""
        horizon = check_horizon(horizon)
        self.check_takes_horizon(horizon)
        return replace(self, horizon=horizon)

    def layer_scores(self, Lambda_bar, b_norm2, c_norm2, variant: str = "paper",
                     rng: np.random.Generator | None = None) -> np.ndarray:
        """One layer's final scores (raw importance, LAST-normalised when ``normalise``)."""
        rng = rng if rng is not None else np.random.default_rng(0)
        scores = np.asarray(self.importance(Lambda_bar, b_norm2, c_norm2, horizon=self.horizon, variant=variant,
                                            rng=rng), dtype=np.float64)
        if scores.shape != np.shape(Lambda_bar):
            raise ValueError(f"criterion {self.name!r} returned scores of shape {scores.shape} for "
                             f"{np.shape(Lambda_bar)[0]} modes")
        return last_normalise(scores) if self.normalise else scores

    def scores(self, layers: Sequence[tuple], variant: str = "paper", seed: int = 0) -> list[np.ndarray]:
        """Final per-mode scores of every layer; ``layers`` holds (Λ̄, ‖B̄‖², ‖C‖²) per layer."""
        rng = np.random.default_rng(seed)
        return [self.layer_scores(*layer, variant=variant, rng=rng) for layer in layers]

    def allocate(self, scores: Sequence[np.ndarray], ratio: float, states_per_mode: Sequence[int]) -> list[np.ndarray]:
        """Kept mode indices per layer under this criterion's allocation rule."""
        return ALLOCATIONS[self.allocation](scores, ratio, states_per_mode)


def _hinf(Lambda_bar, b_norm2, c_norm2, *, horizon, variant, rng):
    return hinf_scores(Lambda_bar, b_norm2, c_norm2, variant, horizon)


def _h2(Lambda_bar, b_norm2, c_norm2, *, horizon, variant, rng):
    return h2_scores(Lambda_bar, b_norm2, c_norm2, horizon)


def _magnitude(Lambda_bar, b_norm2, c_norm2, *, horizon, variant, rng):
    return magnitude_scores(Lambda_bar, b_norm2, c_norm2)


def _magnitude_squared(Lambda_bar, b_norm2, c_norm2, *, horizon, variant, rng):
    return magnitude_scores(Lambda_bar, b_norm2, c_norm2) ** 2


def _random(Lambda_bar, b_norm2, c_norm2, *, horizon, variant, rng):
    return random_scores(len(np.asarray(Lambda_bar)), rng)


CRITERIA: dict[str, Criterion] = {}


def register_criterion(criterion: Criterion, overwrite: bool = False) -> Criterion:
    """Make ``criterion`` available by name (``LASTPruner(model, method=criterion.name)``, sweeps, the CLI)."""
    if not isinstance(criterion, Criterion):
        raise TypeError(f"register_criterion takes a Criterion, got {type(criterion).__name__}")
    if criterion.name in CRITERIA and not overwrite:
        raise ValueError(f"a criterion named {criterion.name!r} is already registered; pass overwrite=True")
    CRITERIA[criterion.name] = criterion
    return criterion


for _criterion in (
    Criterion("last", _hinf, True, "global", True, description="LAST: layer-adaptive H-infinity scores, "
              "Gwak et al., NeurIPS 2024"),
    Criterion("global_hinf", _hinf, False, "global", True, description="global ranking of H-infinity subsystem norms"),
    Criterion("uniform_hinf", _hinf, False, "uniform", True,
              description="the same fraction of states per layer, ranked by H-infinity norm"),
    Criterion("lamp", _magnitude_squared, True, "global", description="LAMP-normalised magnitude scores"),
    Criterion("global_magnitude", _magnitude, False, "global", description="global ranking of parameter magnitudes"),
    Criterion("uniform_magnitude", _magnitude, False, "uniform",
              description="the same fraction of states per layer, ranked by magnitude"),
    Criterion("random", _random, False, "global", description="random states (baseline)"),
    Criterion("last_h2", _h2, True, "global", True, description="LAST with H2 instead of H-infinity subsystem norms"),
):
    register_criterion(_criterion)

METHODS = CRITERIA  # the registered criteria by name (the name users know from the paper's "methods")


def parse_method(spec: str | Criterion) -> tuple[str | Criterion, int | str | None]:
    """Split a method spec ``name[@horizon]`` into (name, horizon): ``"last"`` → ("last", None),
    ``"last@64"`` → ("last", 64), ``"last@auto"`` → ("last", "auto") (L from the evaluation data).
    A :class:`Criterion` is returned as it is, with its own horizon."""
    if isinstance(spec, Criterion):
        return spec, spec.horizon
    if not isinstance(spec, str):
        raise ValueError(f"a pruning method is a name such as 'last' or 'last@64', or a Criterion; got {spec!r}")
    name, separator, horizon_text = spec.partition("@")
    if not separator:
        return name, None
    if horizon_text == "auto":
        return name, "auto"
    if not horizon_text.isdigit() or int(horizon_text) < 1:
        raise ValueError(f"method {spec!r}: the horizon after '@' must be a positive integer or 'auto' "
                         "(e.g. 'last@64', 'last@auto')")
    return name, int(horizon_text)


def method_spec(name: str, horizon: int | str | None) -> str:
    """The spec string of ``name`` at ``horizon`` (inverse of :func:`parse_method`)."""
    return name if horizon is None else f"{name}@{horizon}"


def get_criterion(method: str | Criterion) -> Criterion:
    """The criterion named ``method`` (or ``method`` itself when it is a :class:`Criterion`); a horizon is set with
    :meth:`Criterion.with_horizon` (or given to :class:`~hf_last.pruning.LASTPruner`)."""
    if isinstance(method, Criterion):
        criterion = method
    elif isinstance(method, str) and method in CRITERIA:
        criterion = CRITERIA[method]
    else:
        raise ValueError(f"unknown pruning method {method!r}; choose one of {sorted(CRITERIA)} or pass a Criterion")
    return criterion
