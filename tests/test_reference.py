"""S4D and S5 against a naive reference written from the documented equations.

The reference below is deliberately independent of ``hf_last``: it reads the raw parameters of a mixer,
builds an explicit diagonal matrix Ā, discretizes with the textbook formulas and runs a plain Python time
loop in complex128 numpy. The library's parallel mode (FFT convolution / associative scan), recurrent mode,
single-step streaming and chunked streaming must all agree with it (or with each other) in float64.

Semantics (f = 2 with conj_sym, else 1):
    ZOH:      λ̄ = exp(λΔ),                 B̄ = (λ̄ − 1)/λ · B
    bilinear: λ̄ = (1 + Δλ/2)/(1 − Δλ/2),   B̄ = Δ/(1 − Δλ/2) · B
    x[k] = Ā x[k−1] + B̄ u[k] (x[−1] = 0),  y[k] = f·Re(C x[k]) + D ⊙ u[k]
    bidirectional: x_b[k] = Ā x_b[k+1] + B̄ u[k] (x_b[L] = 0),  y[k] += f·Re(C_backward x_b[k])
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hf_last import S4DConfig, S4DForSequenceClassification, S4DModel, S5Config, S5ForSequenceClassification, S5Model

RTOL = 1e-12  # everything is float64: the largest error measured is below 1e-14



# ----------------------------------------------------------------------------------------------
# naive reference
# ----------------------------------------------------------------------------------------------


def rel_err(a, b) -> float:
    a = np.asarray(a.detach().cpu() if isinstance(a, torch.Tensor) else a, dtype=np.float64)
    b = np.asarray(b.detach().cpu() if isinstance(b, torch.Tensor) else b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def assert_close(actual, expected, what=""):
    err = rel_err(actual, expected)
    assert err <= RTOL, f"{what}: relative error {err:.3e} > {RTOL}"


def np64(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float64)


def as_complex(pairs: np.ndarray) -> np.ndarray:
    return pairs[..., 0] + 1j * pairs[..., 1]


def ref_discretize(lam: np.ndarray, dt: np.ndarray, method: str):
    """(λ̄, γ) with B̄ = γ·B, written out per mode."""
    lam_bar = np.empty_like(lam)
    gamma = np.empty_like(lam)
    for i in range(len(lam)):
        if method == "zoh":
            lam_bar[i] = np.exp(lam[i] * dt[i])
            gamma[i] = (lam_bar[i] - 1.0) / lam[i]
        elif method == "bilinear":
            den = 1.0 - dt[i] * lam[i] / 2.0
            lam_bar[i] = (1.0 + dt[i] * lam[i] / 2.0) / den
            gamma[i] = dt[i] / den
        else:
            raise AssertionError(method)
    return lam_bar, gamma


def ref_lti(A_bar: np.ndarray, B_bar: np.ndarray, C: np.ndarray, C_backward, D: np.ndarray, u: np.ndarray,
            f: float, x0=None):
    """Explicit time loop for x[k] = A_bar x[k−1] + B_bar u[k], y = f·Re(C x) + D u.

    A_bar (N, N) diagonal complex, B_bar (N, H), C (H, N), u (B, L, H). Returns (y (B, L, H), x[L−1] (B, N)).
    """
    batch, length, hidden = u.shape
    n = A_bar.shape[0]
    y = np.zeros((batch, length, hidden))
    final = np.zeros((batch, n), dtype=np.complex128)
    for b in range(batch):
        x = np.zeros(n, dtype=np.complex128) if x0 is None else x0[b].astype(np.complex128)
        for k in range(length):
            x = A_bar @ x + B_bar @ u[b, k]
            y[b, k] = f * (C @ x).real + D * u[b, k]
        final[b] = x
        if C_backward is not None:
            xb = np.zeros(n, dtype=np.complex128)
            for k in range(length - 1, -1, -1):
                xb = A_bar @ xb + B_bar @ u[b, k]
                y[b, k] += f * (C_backward @ xb).real
    return y, final


def ref_s5_system(mixer, conj_sym: bool, clip_eigs: bool, discretization: str, step_rescale: float):
    """(Ā, B̄, C, C_backward, D, f) of an S5 mixer, from its raw parameters."""
    lam_re = np64(mixer.Lambda_re)
    if clip_eigs:
        lam_re = np.minimum(lam_re, -1e-4)
    lam = lam_re + 1j * np64(mixer.Lambda_im)
    dt = np.exp(np64(mixer.log_step)) * step_rescale
    lam_bar, gamma = ref_discretize(lam, dt, discretization)
    B = as_complex(np64(mixer.B))  # (P, H)
    B_bar = gamma[:, None] * B
    C = as_complex(np64(mixer.C))  # (H, P)
    C_backward = None if mixer.C_backward is None else as_complex(np64(mixer.C_backward))
    return np.diag(lam_bar), B_bar, C, C_backward, np64(mixer.D), 2.0 if conj_sym else 1.0


def ref_s4d_system(mixer, hidden: int, channel_state_sizes, conj_sym: bool, clip_eigs: bool, discretization: str,
                   step_rescale: float):
    """(Ā, B̄, C, C_backward, D, f) of an S4D layer as one block-diagonal-in-channels MIMO system.

    Every mode m is a scalar system fed by and read out to its own channel only: row m of B̄ and column m of C
    are zero except at channel(m), with channel(m) derived here from the per-channel state sizes.
    """
    per_mode = 2 if conj_sym else 1
    channel_of_mode = [c for c, n in enumerate(channel_state_sizes) for _ in range(n // per_mode)]
    M = len(channel_of_mode)
    assert mixer.A_imag.shape[0] == M
    lam_re = -np.exp(np64(mixer.log_A_real))
    if clip_eigs:
        lam_re = np.minimum(lam_re, -1e-4)
    lam = lam_re + 1j * np64(mixer.A_imag)
    dt = np.array([np.exp(np64(mixer.log_dt)[channel_of_mode[m]]) * step_rescale for m in range(M)])
    lam_bar, gamma = ref_discretize(lam, dt, discretization)
    B = as_complex(np64(mixer.B))
    C_modes = as_complex(np64(mixer.C))
    Cb_modes = None if mixer.C_backward is None else as_complex(np64(mixer.C_backward))
    B_bar = np.zeros((M, hidden), dtype=np.complex128)
    C = np.zeros((hidden, M), dtype=np.complex128)
    C_backward = None if Cb_modes is None else np.zeros((hidden, M), dtype=np.complex128)
    for m, c in enumerate(channel_of_mode):
        B_bar[m, c] = gamma[m] * B[m]
        C[c, m] = C_modes[m]
        if C_backward is not None:
            C_backward[c, m] = Cb_modes[m]
    return np.diag(lam_bar), B_bar, C, C_backward, np64(mixer.D), 2.0 if conj_sym else 1.0


def reference_system(model, layer_idx: int, step_rescale: float):
    config = model.config
    mixer = model.layers[layer_idx].mixer
    if isinstance(model, S5Model):
        return ref_s5_system(mixer, config.conj_sym, config.clip_eigs, config.discretization, step_rescale)
    layer = config.per_layer_config[layer_idx]
    sizes = layer.channel_state_sizes if layer.channel_state_sizes is not None else [layer.state_size] * config.hidden_size
    return ref_s4d_system(mixer, config.hidden_size, sizes, config.conj_sym, config.clip_eigs, config.discretization,
                          step_rescale)


def reference_mixer(model, layer_idx: int, u: np.ndarray, step_rescale: float, x0=None):
    A_bar, B_bar, C, C_backward, D, f = reference_system(model, layer_idx, step_rescale)
    return ref_lti(A_bar, B_bar, C, C_backward, D, u, f, x0)


# ----------------------------------------------------------------------------------------------
# model factories
# ----------------------------------------------------------------------------------------------


def perturb(model, seed: int = 1) -> None:
    """Generic (non-init-structured) B, C, D: complex B with nonzero imaginary parts, larger Δ."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in model.layers:
            mixer = layer.mixer
            for name in ("B", "C", "C_backward"):
                p = getattr(mixer, name)
                if p is not None:
                    p.add_(0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))
            mixer.D.mul_(0.3)
            steps = mixer.log_step if hasattr(mixer, "log_step") else mixer.log_dt
            steps.copy_(torch.empty(steps.shape, dtype=steps.dtype).uniform_(np.log(0.02), np.log(0.4), generator=g))


def make_s5(hidden=4, layers=2, state_size=6, conj_sym=True, discretization="zoh", bidirectional=False,
            clip_eigs=False, per_layer_config=None, blocks=1, seed=0):
    torch.manual_seed(seed)
    config = S5Config(hidden_size=hidden, num_hidden_layers=layers, state_size=state_size, discretization=discretization, conj_sym=conj_sym,
                      bidirectional=bidirectional, clip_eigs=clip_eigs, blocks=blocks,
                      per_layer_config=per_layer_config or {})
    model = S5Model(config).double().eval()
    perturb(model, seed + 1)
    return model


def make_s4d(hidden=4, layers=2, state_size=4, conj_sym=True, discretization="zoh", bidirectional=False,
             clip_eigs=False, per_layer_config=None, ssm_init="legs", seed=0):
    torch.manual_seed(seed)
    config = S4DConfig(hidden_size=hidden, num_hidden_layers=layers, state_size=state_size, discretization=discretization, conj_sym=conj_sym,
                       bidirectional=bidirectional, clip_eigs=clip_eigs, ssm_init=ssm_init,
                       per_layer_config=per_layer_config or {})
    model = S4DModel(config).double().eval()
    perturb(model, seed + 1)
    return model


# (id, factory kwargs) -- every combination runs for zoh and bilinear
S5_CASES = [
    ("s5-conj", dict(conj_sym=True, state_size=6)),
    ("s5-noconj-odd", dict(conj_sym=False, state_size=5)),
    ("s5-conj-bidir", dict(conj_sym=True, state_size=4, bidirectional=True)),
    ("s5-noconj-bidir", dict(conj_sym=False, state_size=3, bidirectional=True)),
    ("s5-hetero", dict(conj_sym=True, state_size=8, blocks=2, layers=3, hidden=5,
                       per_layer_config={0: {"state_size": 4}, 2: {"state_size": 2}})),
    ("s5-hetero-noconj", dict(conj_sym=False, state_size=5, layers=2, hidden=3, per_layer_config={1: {"state_size": 2}})),
]
S4D_CASES = [
    ("s4d-legs-conj", dict(ssm_init="legs", conj_sym=True, state_size=4)),
    ("s4d-lin-noconj-odd", dict(ssm_init="lin", conj_sym=False, state_size=3)),
    ("s4d-inv-conj-bidir", dict(ssm_init="inv", conj_sym=True, state_size=4, bidirectional=True)),
    ("s4d-legs-noconj-bidir", dict(ssm_init="legs", conj_sym=False, state_size=2, bidirectional=True)),
    ("s4d-ragged", dict(ssm_init="legs", conj_sym=True, state_size=4,
                        per_layer_config={0: {"channel_state_sizes": [2, 4, 0, 6]}})),
    ("s4d-ragged-noconj", dict(ssm_init="inv", conj_sym=False, state_size=2, hidden=5, layers=3,
                               per_layer_config={1: {"channel_state_sizes": [1, 0, 3, 2, 5]},
                                                 2: {"channel_state_sizes": [0, 0, 1, 0, 0]}})),
    ("s4d-ragged-bidir", dict(ssm_init="lin", conj_sym=True, state_size=2, bidirectional=True,
                              per_layer_config={1: {"channel_state_sizes": [4, 0, 2, 6]}})),
]
CASES = [(name, make_s5, kw) for name, kw in S5_CASES] + [(name, make_s4d, kw) for name, kw in S4D_CASES]
UNIDIRECTIONAL = [c for c in CASES if not c[2].get("bidirectional")]
BIDIRECTIONAL = [c for c in CASES if c[2].get("bidirectional")]


def ids(cases):
    return [c[0] for c in cases]


# ----------------------------------------------------------------------------------------------
# mixer level: parallel and recurrent against the reference
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, factory, kwargs", CASES, ids=ids(CASES))
@pytest.mark.parametrize("discretization", ["zoh", "bilinear"])
@pytest.mark.parametrize("step_rescale", [1.0, 2.0])
def test_mixer_matches_reference(name, factory, kwargs, discretization, step_rescale):
    model = factory(discretization=discretization, **kwargs)
    rng = np.random.default_rng(0)
    hidden = model.config.hidden_size
    for layer_idx, layer in enumerate(model.layers):
        mixer = layer.mixer
        u = rng.standard_normal((2, 23, hidden))
        expected, _ = reference_mixer(model, layer_idx, u, step_rescale)
        u_t = torch.from_numpy(u)
        D_u = np64(mixer.D) * u
        with torch.no_grad():
            y_par, state = mixer(u_t, step_rescale=step_rescale, state=None, return_state=False, mode="parallel")
            assert state is None
            assert y_par.dtype == torch.float64 and y_par.shape == u_t.shape
            assert_close(y_par, expected, f"{name} layer {layer_idx} parallel")
            # the SSM part alone, so that a large D·u cannot hide an error in the convolution
            assert_close(np64(y_par) - D_u, expected - D_u, f"{name} layer {layer_idx} parallel (SSM part)")
            if mixer.bidirectional:
                with pytest.raises(ValueError):
                    mixer(u_t, step_rescale=step_rescale, mode="recurrent")
                continue
            y_rec, _ = mixer(u_t, step_rescale=step_rescale, state=None, return_state=False, mode="recurrent")
            assert_close(y_rec, expected, f"{name} layer {layer_idx} recurrent")
            assert_close(np64(y_rec) - D_u, expected - D_u, f"{name} layer {layer_idx} recurrent (SSM part)")


def as_layer_state(mixer, packed: np.ndarray) -> torch.Tensor:
    """A state given per stored mode (B, M) in the layer's own layout (S4D: the (B, H, max modes) grid)."""
    state = torch.from_numpy(packed)
    return mixer.to_channel_grid(state) if hasattr(mixer, "to_channel_grid") else state


def packed_state(mixer, state: torch.Tensor) -> torch.Tensor:
    """The layer's state as one entry per stored mode (B, M); S4D grids hold zeros in their gaps."""
    if not hasattr(mixer, "to_channel_grid"):
        return state
    packed = mixer.from_channel_grid(state)
    assert torch.equal(mixer.to_channel_grid(packed), state), "the gaps of the S4D state grid must stay zero"
    return packed


@pytest.mark.parametrize("name, factory, kwargs", UNIDIRECTIONAL, ids=ids(UNIDIRECTIONAL))
@pytest.mark.parametrize("discretization", ["zoh", "bilinear"])
def test_mixer_state_continuation_matches_reference(name, factory, kwargs, discretization):
    """Final states returned by both modes, and outputs continued from a nonzero initial state."""
    model = factory(discretization=discretization, **kwargs)
    rng = np.random.default_rng(1)
    hidden = model.config.hidden_size
    step_rescale = 2.0
    for layer_idx, layer in enumerate(model.layers):
        mixer = layer.mixer
        u = rng.standard_normal((2, 17, hidden))
        n = mixer.num_modes
        x0 = rng.standard_normal((2, n)) + 1j * rng.standard_normal((2, n))
        expected, final = reference_mixer(model, layer_idx, u, step_rescale, x0=x0)
        with torch.no_grad():
            for mode in ("parallel", "recurrent"):
                y, state = mixer(torch.from_numpy(u), step_rescale=step_rescale, state=as_layer_state(mixer, x0),
                                 return_state=True, mode=mode)
                assert_close(y, expected, f"{name} layer {layer_idx} {mode} from x0")
                state = packed_state(mixer, state)
                assert state.shape == (2, n) and state.dtype == torch.complex128
                assert_close(torch.view_as_real(state), np.stack([final.real, final.imag], -1),
                             f"{name} layer {layer_idx} {mode} final state")
            _, zero_final = reference_mixer(model, layer_idx, u, step_rescale)
            _, state = mixer(torch.from_numpy(u), step_rescale=step_rescale, return_state=True, mode="parallel")
            state = packed_state(mixer, state)
            assert_close(torch.view_as_real(state), np.stack([zero_final.real, zero_final.imag], -1),
                         f"{name} layer {layer_idx} parallel final state from zero")


@pytest.mark.parametrize("length", [1, 2, 7, 8, 31, 40])
def test_odd_and_power_of_two_lengths(length):
    """Both the scan (S5) and the blocked Vandermonde kernel (S4D) at lengths around their block boundaries."""
    rng = np.random.default_rng(length)
    for model in (make_s5(conj_sym=False, state_size=5, layers=1, discretization="bilinear"),
                  make_s4d(conj_sym=True, state_size=6, layers=1, ssm_init="lin", bidirectional=True),
                  make_s5(state_size=4, layers=1, bidirectional=True)):
        u = rng.standard_normal((1, length, model.config.hidden_size))
        expected, _ = reference_mixer(model, 0, u, 1.0)
        with torch.no_grad():
            y, _ = model.layers[0].mixer(torch.from_numpy(u), mode="parallel")
        assert_close(y, expected, f"{type(model).__name__} L={length}")


@pytest.mark.parametrize("factory", [make_s5, make_s4d], ids=["s5", "s4d"])
@pytest.mark.parametrize("discretization", ["zoh", "bilinear"])
def test_clip_eigs_matches_reference(factory, discretization):
    """Poles with Re λ above −1e-4 (even unstable ones for S5) are clipped in both modes; unclipped otherwise."""
    rng = np.random.default_rng(2)
    for clip in (True, False):
        model = factory(conj_sym=False, state_size=4, layers=1, clip_eigs=clip, discretization=discretization)
        mixer = model.layers[0].mixer
        with torch.no_grad():
            if factory is make_s5:
                mixer.Lambda_re.copy_(torch.tensor([0.3, -1e-6, -0.5, 2e-5], dtype=torch.float64))
            else:
                mixer.log_A_real[::2] = -15.0  # Re λ = −3e-7
        u = rng.standard_normal((2, 19, model.config.hidden_size))
        expected, _ = reference_mixer(model, 0, u, 1.5)
        with torch.no_grad():
            for mode in ("parallel", "recurrent"):
                y, _ = mixer(torch.from_numpy(u), step_rescale=1.5, mode=mode)
                assert_close(y, expected, f"clip_eigs={clip} {mode}")


def test_reference_is_not_trivially_satisfied():
    """Sanity of the harness: the reference reacts to conj factor, discretization and step_rescale."""
    model = make_s5(conj_sym=True, state_size=4, layers=1)
    u = np.random.default_rng(3).standard_normal((1, 12, 4))
    with torch.no_grad():
        y, _ = model.layers[0].mixer(torch.from_numpy(u), step_rescale=1.0)
    assert rel_err(y, reference_mixer(model, 0, u, 2.0)[0]) > 1e-3
    A_bar, B_bar, C, Cb, D, f = reference_system(model, 0, 1.0)
    assert rel_err(y, ref_lti(A_bar, B_bar, C, Cb, D, u, 1.0)[0]) > 1e-3
    model.config.discretization = "bilinear"
    assert rel_err(y, reference_mixer(model, 0, u, 1.0)[0]) > 1e-6


# ----------------------------------------------------------------------------------------------
# whole model: parallel vs recurrent vs reference mixers, streaming
# ----------------------------------------------------------------------------------------------


def patched_reference_forward(model, x: torch.Tensor, step_rescale: float) -> torch.Tensor:
    """The model with every mixer's forward replaced by the numpy reference (blocks, norms, etc. unchanged)."""
    originals = {}
    for idx, layer in enumerate(model.layers):
        def ref_forward(u, step_rescale=1.0, state=None, return_state=False, mode="parallel", _idx=idx):
            assert state is None and not return_state
            y, _ = reference_mixer(model, _idx, np64(u), step_rescale)
            return torch.from_numpy(y), None
        originals[idx] = layer.mixer.forward
        layer.mixer.forward = ref_forward
    try:
        with torch.no_grad():
            return model(inputs_embeds=x, step_rescale=step_rescale).last_hidden_state
    finally:
        for idx, layer in enumerate(model.layers):
            del layer.mixer.forward
            assert layer.mixer.forward == originals[idx]


@pytest.mark.parametrize("name, factory, kwargs", CASES, ids=ids(CASES))
@pytest.mark.parametrize("discretization", ["zoh", "bilinear"])
def test_model_parallel_recurrent_and_reference_agree(name, factory, kwargs, discretization):
    model = factory(discretization=discretization, **kwargs)
    torch.manual_seed(5)
    x = torch.randn(2, 21, model.config.hidden_size, dtype=torch.float64)
    for step_rescale in (1.0, 2.0):
        expected = patched_reference_forward(model, x, step_rescale)
        with torch.no_grad():
            parallel = model(inputs_embeds=x, step_rescale=step_rescale, mode="parallel").last_hidden_state
            assert_close(parallel, expected, f"{name} model parallel vs reference (step_rescale={step_rescale})")
            if model.config.bidirectional:
                with pytest.raises(ValueError):
                    model(inputs_embeds=x, mode="recurrent")
                continue
            recurrent = model(inputs_embeds=x, step_rescale=step_rescale, mode="recurrent").last_hidden_state
            assert_close(recurrent, parallel, f"{name} model recurrent vs parallel (step_rescale={step_rescale})")
            assert_close(recurrent, expected, f"{name} model recurrent vs reference (step_rescale={step_rescale})")
    # config.step_rescale is the default when the forward argument is absent
    model.config.step_rescale = 2.0
    with torch.no_grad():
        assert_close(model(inputs_embeds=x).last_hidden_state, patched_reference_forward(model, x, 2.0),
                     f"{name} config.step_rescale")


@pytest.mark.parametrize("name, factory, kwargs", UNIDIRECTIONAL, ids=ids(UNIDIRECTIONAL))
@pytest.mark.parametrize("discretization", ["zoh", "bilinear"])
def test_model_streaming_matches_one_shot(name, factory, kwargs, discretization):
    model = factory(discretization=discretization, **kwargs)
    torch.manual_seed(6)
    batch, length = 2, 15
    x = torch.randn(batch, length, model.config.hidden_size, dtype=torch.float64)
    step_rescale = 2.0
    with torch.no_grad():
        one_shot = model(inputs_embeds=x, step_rescale=step_rescale, mode="parallel").last_hidden_state
        assert_close(one_shot, patched_reference_forward(model, x, step_rescale), f"{name} one-shot vs reference")

        # single steps
        state = model.init_recurrent_state(batch)
        assert len(state) == len(model.layers)
        outputs = []
        for t in range(length):
            h_t, state = model.step(state, inputs_embeds=x[:, t], step_rescale=step_rescale)
            assert h_t.shape == (batch, model.config.hidden_size)
            outputs.append(h_t)
        assert_close(torch.stack(outputs, 1), one_shot, f"{name} step-by-step")

        # chunks, closed form (parallel) and recurrent, from the zero state and from init_recurrent_state
        for mode, start in (("parallel", "none"), ("parallel", "init"), ("recurrent", "init")):
            state = None if start == "none" else model.init_recurrent_state(batch)
            pieces, t = [], 0
            for k in (5, 1, 6, 3):
                out = model(inputs_embeds=x[:, t:t + k], step_rescale=step_rescale, recurrent_state=state,
                            return_state=True, mode=mode)
                pieces.append(out.last_hidden_state)
                state = out.recurrent_state
                t += k
            assert t == length
            assert_close(torch.cat(pieces, 1), one_shot, f"{name} chunked {mode} from {start}")

        # the final streamed states equal those of one recurrent pass
        final_rec = model(inputs_embeds=x, step_rescale=step_rescale, return_state=True, mode="recurrent").recurrent_state
        final_par = model(inputs_embeds=x, step_rescale=step_rescale, return_state=True, mode="parallel").recurrent_state
        for a, b, c in zip(final_rec, final_par, state):
            assert_close(torch.view_as_real(b), torch.view_as_real(a), f"{name} final state parallel vs recurrent")
            assert_close(torch.view_as_real(c), torch.view_as_real(a), f"{name} final state chunked vs recurrent")


@pytest.mark.parametrize("name, factory, kwargs", BIDIRECTIONAL, ids=ids(BIDIRECTIONAL))
def test_bidirectional_refuses_streaming(name, factory, kwargs):
    model = factory(**kwargs)
    x = torch.randn(1, 6, model.config.hidden_size, dtype=torch.float64)
    state = model.init_recurrent_state(1)
    mixer = model.layers[0].mixer
    with torch.no_grad():
        with pytest.raises(ValueError):
            model(inputs_embeds=x, mode="recurrent")
        with pytest.raises(ValueError):
            model.step(state, inputs_embeds=x[:, 0])
        with pytest.raises(ValueError):
            model(inputs_embeds=x, recurrent_state=state, return_state=True, mode="parallel")
        with pytest.raises(ValueError):
            model(inputs_embeds=x, return_state=True, mode="parallel")
        with pytest.raises(ValueError):
            mixer(x, mode="recurrent")
        with pytest.raises(ValueError):
            mixer(x, return_state=True, mode="parallel")
        with pytest.raises(ValueError):
            mixer(x, state=state[0], mode="parallel")


# ----------------------------------------------------------------------------------------------
# gradients
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model_class, config_class, extra", [
    (S4DForSequenceClassification, S4DConfig, dict(per_layer_config={1: {"channel_state_sizes": [2, 0, 4, 2]}})),
    (S5ForSequenceClassification, S5Config, dict(per_layer_config={1: {"state_size": 2}})),
], ids=["s4d", "s5"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("discretization", ["zoh", "bilinear"])
def test_gradients_reach_every_parameter(model_class, config_class, extra, bidirectional, discretization):
    torch.manual_seed(0)
    config = config_class(hidden_size=4, num_hidden_layers=2, state_size=4, input_size=1, num_labels=3,
                          bidirectional=bidirectional, discretization=discretization, **extra)
    model = model_class(config).double().train()
    x = torch.randn(3, 13, 1, dtype=torch.float64)
    labels = torch.tensor([0, 2, 1])
    out = model(input_values=x, labels=labels)
    assert out.loss is not None and torch.isfinite(out.loss)
    out.loss.backward()
    names = [name for name, _ in model.named_parameters()]
    assert any(name.endswith("mixer.C_backward") for name in names) == bidirectional
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} has no gradient"
        assert torch.isfinite(p.grad).all(), f"{name} has a non-finite gradient"
        assert p.grad.abs().max() > 0, f"{name} has an all-zero gradient"
