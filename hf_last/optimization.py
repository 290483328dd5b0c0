"""Optimiser parameter groups following the S4/S5 convention."""

from __future__ import annotations

from torch import nn

from .models.modeling_ssm import DiagonalSSMMixer, SequenceNorm


def param_groups(model: nn.Module, lr: float, ssm_lr: float, weight_decay: float = 0.0) -> list[dict]:
    """Three groups for ``torch.optim.AdamW``:

    - SSM parameters (Λ/A, B, Δ of every mixer): ``ssm_lr``, no weight decay;
    - norms and biases: ``lr``, no weight decay;
    - everything else (C, D, encoders, channel mixing, classifier): ``lr`` with ``weight_decay``.
    Empty groups are dropped.
    """
    ssm, no_decay, decay = [], [], []
    ssm_ids = set()
    for module in model.modules():
        if isinstance(module, DiagonalSSMMixer):
            ssm_ids.update(id(getattr(module, name)) for name in module.ssm_parameter_names)
    norm_ids = {id(p) for m in model.modules() if isinstance(m, SequenceNorm) for p in m.parameters()}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        if id(parameter) in ssm_ids:
            ssm.append(parameter)
        elif id(parameter) in norm_ids or name.endswith(".bias"):
            no_decay.append(parameter)
        else:
            decay.append(parameter)
    groups = [
        {"params": ssm, "lr": ssm_lr, "weight_decay": 0.0},
        {"params": no_decay, "lr": lr, "weight_decay": 0.0},
        {"params": decay, "lr": lr, "weight_decay": weight_decay},
    ]
    return [group for group in groups if group["params"]]
