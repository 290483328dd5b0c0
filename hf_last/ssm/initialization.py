"""Initialisations of diagonal SSMs: HiPPO-LegS (normal part), S4D-LegS/Lin/Inv and S5's HiPPO-N.

All functions are pure and return float64/complex128 numpy arrays; the models copy them into
their parameters. ``n`` always counts complex modes that are *stored*.
"""

from __future__ import annotations

import numpy as np

S4D_INITS = ("legs", "lin", "inv")
S5_C_INITS = ("trunc_standard_normal", "lecun_normal", "complex_normal")


def hippo_legs(N: int) -> tuple[np.ndarray, np.ndarray]:
    """HiPPO-LegS matrices (A, B) of size N: A_nk = −sqrt(2n+1)sqrt(2k+1) for n > k, −(n+1) for n = k."""
    q = np.sqrt(1 + 2 * np.arange(N))
    A = np.tril(q[:, None] * q[None, :]) - np.diag(np.arange(N))
    return -A, q.copy()


def normal_hippo_legs(N: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eigen-decomposition of the normal part S = A + PPᵀ of HiPPO-LegS, P_n = sqrt(n + ½).

    Returns (Λ, V, V*B): Re Λ = −½ (the constant diagonal of S), Im Λ and V from eigh(−iS),
    eigenvalues sorted by imaginary part (ascending), so the spectrum is conjugate-symmetric.
    """
    A, B = hippo_legs(N)
    P = np.sqrt(np.arange(N) + 0.5)
    S = A + P[:, None] * P[None, :]
    Lambda_imag, V = np.linalg.eigh(-1j * S)
    Lambda = np.mean(np.diag(S)) + 1j * Lambda_imag
    return Lambda, V, V.conj().T @ B


def s4d_poles(n_states: int, method: str, conj_sym: bool) -> tuple[np.ndarray, np.ndarray]:
    """Poles Λ and input vector B of one S4D channel with ``n_states`` states.

    - ``lin``: λ_n = −½ + iπn
    - ``inv``: λ_n = −½ + i(N/π)(N/(2n+1) − 1)
    - ``legs``: eigenvalues of the normal HiPPO-LegS part (positive imaginary half), B = V*·B_legs
    With ``conj_sym`` the N/2 modes with Im λ ≥ 0 are stored; otherwise all N (closed under conjugation).
    """
    if n_states == 0:
        return np.zeros(0, dtype=np.complex128), np.zeros(0, dtype=np.complex128)
    half = (n_states + 1) // 2
    n = np.arange(half)
    if method == "lin":
        Lambda = -0.5 + 1j * np.pi * n
        B = np.ones(half, dtype=np.complex128)
    elif method == "inv":
        Lambda = -0.5 + 1j * (n_states / np.pi) * (n_states / (2 * n + 1) - 1)
        B = np.ones(half, dtype=np.complex128)
    elif method == "legs":
        full, _, VB = normal_hippo_legs(2 * half)
        upper = np.argsort(full.imag)[half:][::-1]  # positive imaginary part, largest first
        Lambda, B = full[upper], VB[upper]
    else:
        raise ValueError(f"ssm_init must be one of {S4D_INITS}, got {method!r}")
    if conj_sym:
        return Lambda[: n_states // 2], B[: n_states // 2]
    return np.concatenate([Lambda, Lambda.conj()])[:n_states], np.concatenate([B, B.conj()])[:n_states]


def s5_hippo_n(n_states: int, blocks: int, conj_sym: bool) -> tuple[np.ndarray, np.ndarray]:
    """S5's block-diagonal HiPPO-N initialisation for ``n_states`` states in ``blocks`` blocks J.

    Each block of size n/J is the normal HiPPO-LegS part; with ``conj_sym`` half of every block's
    eigenvalues is kept. Returns (Λ of the stored modes, V with shape (n_states, stored modes)) so that
    B̃ = V⁻¹B = Vᴴ B and C̃ = C V. A layer whose size J does not divide falls back to one block.
    """
    if blocks < 1 or n_states % blocks or (conj_sym and (n_states // blocks) % 2):
        blocks = 1
    size = n_states // blocks
    Lambda, V, _ = normal_hippo_legs(size)
    if conj_sym:
        Lambda, V = Lambda[: size // 2], V[:, : size // 2]
    kept = V.shape[1]
    V_full = np.zeros((n_states, kept * blocks), dtype=np.complex128)
    for j in range(blocks):
        V_full[j * size : (j + 1) * size, j * kept : (j + 1) * kept] = V
    return np.tile(Lambda, blocks), V_full

