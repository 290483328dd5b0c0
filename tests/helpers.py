"""Helpers shared by the pruning tests (one copy): small float64 models, the masking reference that removal must
equal, a numpy recomputation of every layer's discrete system from its raw parameters, and snapshots to check
that a failed call changed nothing.

Imported as ``from helpers import ...`` (the tests folder is on ``sys.path``, like ``conftest``).
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from hf_last import S4DConfig, S4DForSequenceClassification, S5Config, S5ForSequenceClassification
from hf_last.pruning import is_prunable

FAMILIES = [("s4d", False), ("s4d", True), ("s5", False), ("s5", True)]


# ---- models ---------------------------------------------------------------------------------------------------
def make_model(family: str, bidirectional: bool = False, discretization: str = "zoh", seed: int = 0, **kwargs):
    """A 3-layer float64 classifier with heterogeneous layers (S5: state sizes 8/12/8; S4D: a ragged layer with an
    empty channel) and steps spread so that layers and modes differ in scale."""
    torch.manual_seed(seed)
    if family == "s5":
        config = S5Config(hidden_size=6, num_hidden_layers=3, state_size=8, blocks=2, num_labels=3,
                          bidirectional=bidirectional, discretization=discretization,
                          per_layer_config={1: {"state_size": 12}}, **kwargs)
        model = S5ForSequenceClassification(config)
    else:
        config = S4DConfig(hidden_size=4, num_hidden_layers=3, state_size=6, num_labels=3,
                           bidirectional=bidirectional, discretization=discretization,
                           per_layer_config={2: {"channel_state_sizes": [2, 6, 0, 4]}}, **kwargs)
        model = S4DForSequenceClassification(config)
    model = model.double().eval()
    # spread the poles so that layers and modes differ in scale (and some sit close to the unit circle)
    with torch.no_grad():
        for mixer in mixers(model):
            if hasattr(mixer, "log_step"):
                mixer.log_step.add_(torch.randn_like(mixer.log_step))
            else:
                mixer.log_dt.add_(torch.randn_like(mixer.log_dt))
    return model


def mixers(model):
    return [m for m in model.modules() if is_prunable(m)]


def inputs(seed=1, batch=2, length=19):
    return torch.randn(batch, length, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def outputs(model, x):
    """Logits and the last hidden states, flattened into one vector."""
    with torch.no_grad():
        out = model(input_values=x, output_hidden_states=True)
    return torch.cat([out.logits.flatten(), out.hidden_states[-1].flatten()])


def assert_relclose(actual, expected, rtol=1e-10):
    """max |actual − expected| <= rtol · max |expected| (float64 models: the measured error is ~1e-15)."""
    scale = expected.abs().max().clamp(min=1e-12)
    assert (actual - expected).abs().max() <= rtol * scale, float((actual - expected).abs().max() / scale)


def masked_copy(model, plan):
    """The dense model with the B rows and C columns of every removed mode zeroed (a deep copy)."""
    masked = copy.deepcopy(model)
    with torch.no_grad():
        for mixer, kept in zip(mixers(masked), plan.kept_modes):
            removed = torch.tensor(sorted(set(range(mixer.num_modes)) - set(kept)), dtype=torch.long)
            mixer.B[removed] = 0
            for C in (mixer.C, mixer.C_backward):
                if C is None:
                    continue
                if hasattr(mixer, "Lambda_re"):  # S5: C (H, P, 2)
                    C[:, removed] = 0
                else:  # S4D: C (M, 2)
                    C[removed] = 0
    return masked


def state_dicts_equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ---- snapshots: a failed call must change nothing --------------------------------------------------------------
def snapshot(model):
    return copy.deepcopy(model.state_dict()), model.config.to_dict()


def unchanged(model, taken) -> bool:
    """The model's tensors (NaN compared equal to NaN) and config are those of ``snapshot(model)``."""
    state, config = taken
    now = model.state_dict()
    same = (lambda a, b: a.shape == b.shape and a.dtype == b.dtype and torch.equal(a.isnan(), b.isnan())
            and torch.equal(a.nan_to_num(), b.nan_to_num()))
    return state.keys() == now.keys() and all(same(state[k], now[k]) for k in state) and model.config.to_dict() == config


# ---- independent numpy recomputation from raw parameters -------------------------------------------------------
def _complex(p):
    p = p.detach().numpy()
    return p[..., 0] + 1j * p[..., 1]


def raw_system(mixer, config, step_rescale: float | None = None):
    """(λ̄ (M,), B̄ (M, inputs), [C (M, outputs) per direction]) from the raw parameters, in numpy, with every Δ
    multiplied by ``step_rescale`` (default ``config.step_rescale``)."""
    step_rescale = config.step_rescale if step_rescale is None else step_rescale
    if hasattr(mixer, "Lambda_re"):  # S5
        re = mixer.Lambda_re.detach().numpy()
        if config.clip_eigs:
            re = np.minimum(re, -1e-4)
        lam = re + 1j * mixer.Lambda_im.detach().numpy()
        step = np.exp(mixer.log_step.detach().numpy()) * step_rescale
        B = _complex(mixer.B)  # (P, H)
        Cs = [_complex(C).T for C in (mixer.C, mixer.C_backward) if C is not None]  # (P, H)
    else:  # S4D
        spm = 2 if config.conj_sym else 1
        sizes = config.channel_sizes(mixer.layer_idx)
        channel = np.repeat(np.arange(config.hidden_size), [n // spm for n in sizes])
        re = -np.exp(mixer.log_A_real.detach().numpy())
        if config.clip_eigs:
            re = np.minimum(re, -1e-4)
        lam = re + 1j * mixer.A_imag.detach().numpy()
        step = np.exp(mixer.log_dt.detach().numpy())[channel] * step_rescale
        B = _complex(mixer.B)[:, None]
        Cs = [_complex(C)[:, None] for C in (mixer.C, mixer.C_backward) if C is not None]
    if config.discretization == "zoh":
        lam_bar = np.exp(lam * step)
        B_bar = ((lam_bar - 1) / lam)[:, None] * B
    else:
        lam_bar = (1 + step * lam / 2) / (1 - step * lam / 2)
        B_bar = (step / (1 - step * lam / 2))[:, None] * B
    return lam_bar, B_bar, Cs


# ---- what a saved figure shows (see the ``saved_figures`` fixture in conftest) ---------------------------------
def drawn_lines(figure, axes: int = 0) -> dict[str, tuple[list[float], list[float]]]:
    """{label: (x, y)} of every labelled line on ``figure.axes[axes]``."""
    return {line.get_label(): ([float(v) for v in line.get_xdata()], [float(v) for v in line.get_ydata()])
            for line in figure.axes[axes].get_lines() if not line.get_label().startswith("_")}


def drawn_bars(figure, axes: int = 0) -> dict[str, list[float]]:
    """{label: bar heights} of every bar series on ``figure.axes[axes]``."""
    return {bars.get_label(): [float(bar.get_height()) for bar in bars] for bars in figure.axes[axes].containers}


def drawn_points(figure, axes: int = 0) -> dict[str, np.ndarray]:
    """{label: points as complex numbers x + iy} of every labelled scatter on ``figure.axes[axes]``."""
    return {points.get_label(): points.get_offsets()[:, 0] + 1j * points.get_offsets()[:, 1]
            for points in figure.axes[axes].collections if not points.get_label().startswith("_")}
