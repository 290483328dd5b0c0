"""Discretization of a diagonal continuous-time system x' = Λx + Bu with step Δ.

Both rules return the discrete poles Λ̄ and the input gain γ such that B̄ = γ · B
(row-wise: every mode's input row is scaled by its own γ).
"""

from __future__ import annotations

import torch

DISCRETIZATIONS = ("zoh", "bilinear")


def discretize(Lambda: torch.Tensor, step: torch.Tensor, method: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (Λ̄, γ) for complex poles ``Lambda`` and real steps ``step`` (broadcastable).

    - ``zoh``:      Λ̄ = exp(ΛΔ),                 γ = (Λ̄ − 1) / Λ
    - ``bilinear``: Λ̄ = (1 + ΔΛ/2) / (1 − ΔΛ/2), γ = Δ / (1 − ΔΛ/2)
    """
    if method == "zoh":
        Lambda_bar = torch.exp(Lambda * step)
        return Lambda_bar, (Lambda_bar - 1) / Lambda
    if method == "bilinear":
        denominator = 1 - step * Lambda / 2
        return (1 + step * Lambda / 2) / denominator, step / denominator
    raise ValueError(f"discretization must be one of {DISCRETIZATIONS}, got {method!r}")


def log_discrete_poles(Lambda: torch.Tensor, step: torch.Tensor, method: str) -> torch.Tensor:
    """log Λ̄ (principal branch), used to raise Λ̄ to many powers as exp(l · log Λ̄) without a power loop.

    For ZOH this is exactly ΛΔ (no complex log is taken).
    """
    if method == "zoh":
        return Lambda * step
    Lambda_bar, _ = discretize(Lambda, step, method)
    return torch.log(Lambda_bar)
