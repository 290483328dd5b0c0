"""Pruning criteria: per-mode importance and its allocation across layers (pure numpy functions).

Every layer l is a diagonal discrete-time system whose stored mode i is the first-order subsystem
G_i(z) = C_i B̄_i / (z − λ̄_i) (see :mod:`hf_last.pruning.subsystems`). Criteria see only the arrays of
:class:`~hf_last.pruning.subsystems.ModalSubsystems`: λ̄_i, ‖B̄_i‖², ‖C_i‖² per direction.

Importance (one score per stored mode):

- :func:`hinf_scores`      h_i = ‖C_i‖² ‖B̄_i‖² / (1 − |λ̄_i|)²   (squared H∞ norm of G_i)
- :func:`h2_scores`        ‖C_i‖² ‖B̄_i‖² / (1 − |λ̄_i|²)         (squared H2 norm of G_i)
- :func:`magnitude_scores` |λ̄_i| ‖B̄_i‖ ‖C_i‖
- :func:`random_scores`    i.i.d. uniform, seeded

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
"""

from __future__ import annotations

from collections.abc import Sequence

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


def hinf_scores(Lambda_bar, b_norm2, c_norm2, variant: str = "paper") -> np.ndarray:
    """Squared H∞ norm of every mode's subsystem G_i(z) = C_i B̄_i / (z − λ̄_i).

    ‖G_i‖∞ = max_{|z|=1} σ_max(C_i B̄_i) / |z − λ̄_i| = ‖C_i‖ ‖B̄_i‖ / (1 − |λ̄_i|), attained at z = e^{j arg λ̄_i}
    (C_i B̄_i is rank one, so σ_max = ‖C_i‖‖B̄_i‖). The score is the square

        h_i = ‖C_i‖² ‖B̄_i‖² / (1 − |λ̄_i|)²,

    with ‖C_i‖² = Σ_directions ‖C_i^(d)‖² for bidirectional layers (module docstring).

    ``variant="reference"`` is the reference implementation's formula, reproduced verbatim:
    unidirectional ‖C_i‖² ‖B̄_i‖² / ((1 − |λ̄_i|)² + 1e-8); bidirectional
    ``(‖C1_i‖ + ‖C2_i‖) / 2**2 * ‖B̄_i‖² / ((1 − |λ̄_i|)² + 1e-8)`` = (‖C1_i‖ + ‖C2_i‖)/4 · ‖B̄_i‖² / (…),
    i.e. with the output norm *not* squared (``**`` binds before ``/``).

    Raises ValueError for a mode with |λ̄_i| ≥ 1 (its H∞ norm is infinite) in the paper variant; the
    reference variant, like the reference code, has no guard.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {list(VARIANTS)}, got {variant!r}")
    Lambda_bar, b_norm2, c_norm2 = _as_arrays(Lambda_bar, b_norm2, c_norm2)
    gap2 = (1 - np.abs(Lambda_bar)) ** 2
    if variant == "reference":
        if c_norm2.shape[0] == 2:
            c = (np.sqrt(c_norm2[0]) + np.sqrt(c_norm2[1])) / 2**2
        else:
            c = c_norm2.sum(0)
        return c * b_norm2 / (gap2 + 1e-8)
    _require_stable(Lambda_bar, "The H∞ norm")
    return c_norm2.sum(0) * b_norm2 / gap2


def h2_scores(Lambda_bar, b_norm2, c_norm2) -> np.ndarray:
    """Squared H2 norm (output energy of an impulse) of every mode: ‖C_i‖² ‖B̄_i‖² / (1 − |λ̄_i|²).

    ‖G_i‖₂² = Σ_{k≥0} ‖C_i B̄_i‖_F² |λ̄_i|^{2k}; used by AIRE-Prune. Raises ValueError for |λ̄_i| ≥ 1.
    """
    Lambda_bar, b_norm2, c_norm2 = _as_arrays(Lambda_bar, b_norm2, c_norm2)
    _require_stable(Lambda_bar, "The H2 norm")
    return c_norm2.sum(0) * b_norm2 / (1 - np.abs(Lambda_bar) ** 2)


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


# name -> (importance, normalise with LAST/LAMP, allocation)
METHODS: dict[str, tuple[str, bool, str]] = {
    "last": ("hinf", True, "global"),
    "global_hinf": ("hinf", False, "global"),
    "uniform_hinf": ("hinf", False, "uniform"),
    "lamp": ("magnitude2", True, "global"),
    "global_magnitude": ("magnitude", False, "global"),
    "uniform_magnitude": ("magnitude", False, "uniform"),
    "random": ("random", False, "global"),
    "last_h2": ("h2", True, "global"),
}


def importance(kind: str, Lambda_bar, b_norm2, c_norm2, variant: str = "paper",
               rng: np.random.Generator | None = None) -> np.ndarray:
    """One layer's raw importance of kind ``hinf`` | ``h2`` | ``magnitude`` | ``magnitude2`` | ``random``."""
    if kind == "hinf":
        return hinf_scores(Lambda_bar, b_norm2, c_norm2, variant)
    if kind == "h2":
        return h2_scores(Lambda_bar, b_norm2, c_norm2)
    if kind == "magnitude":
        return magnitude_scores(Lambda_bar, b_norm2, c_norm2)
    if kind == "magnitude2":
        return magnitude_scores(Lambda_bar, b_norm2, c_norm2) ** 2
    if kind == "random":
        return random_scores(len(np.asarray(Lambda_bar)), rng if rng is not None else np.random.default_rng(0))
    raise ValueError(f"unknown importance {kind!r}")


def method_scores(method: str, layers: Sequence[tuple], variant: str = "paper", seed: int = 0) -> list[np.ndarray]:
    """Final per-mode scores of ``method`` for every layer; ``layers`` holds (Λ̄, ‖B̄‖², ‖C‖²) per layer."""
    if method not in METHODS:
        raise ValueError(f"unknown pruning method {method!r}; choose one of {sorted(METHODS)}")
    kind, normalise, _ = METHODS[method]
    rng = np.random.default_rng(seed)
    out = []
    for Lambda_bar, b_norm2, c_norm2 in layers:
        s = importance(kind, Lambda_bar, b_norm2, c_norm2, variant, rng)
        out.append(last_normalise(s) if normalise else s)
    return out


def allocate(method: str, scores: Sequence[np.ndarray], ratio: float, states_per_mode: Sequence[int]) -> list[np.ndarray]:
    """Kept mode indices per layer for ``method``'s allocation rule."""
    if method not in METHODS:
        raise ValueError(f"unknown pruning method {method!r}; choose one of {sorted(METHODS)}")
    rule = global_allocation if METHODS[method][2] == "global" else uniform_allocation
    return rule(scores, ratio, states_per_mode)
