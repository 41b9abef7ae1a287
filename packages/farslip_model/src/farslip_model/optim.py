"""AdamW with open_clip's no-decay groups, and a step-level warmup + cosine schedule."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn


def no_decay(name: str, param: torch.Tensor) -> bool:
    """open_clip's rule: no weight decay for ndim < 2 and for ln / bn / bias / logit_scale parameters."""
    return param.ndim < 2 or "bn" in name or "ln" in name or "bias" in name or "logit_scale" in name


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two groups of trainable parameters: decayed and not decayed (in ``named_parameters`` order)."""
    decay, keep = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (keep if no_decay(name, p) else decay).append(p)
    return [
        {"params": keep, "weight_decay": 0.0, "name": "no_decay"},
        {"params": decay, "weight_decay": weight_decay, "name": "decay"},
    ]


def build_optimizer(
    model: nn.Module,
    lr: float,
    weight_decay: float,
    betas: tuple[float, float] = (0.9, 0.98),
    eps: float = 1e-6,
) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups` (multi-tensor ``foreach`` kernels, faster on CPU too)."""
    return torch.optim.AdamW(param_groups(model, weight_decay), lr=lr, betas=betas, eps=eps, foreach=True)


class WarmupCosine:
    """Sets each group's lr per optimizer step: linear warmup from lr/warmup to lr over ``warmup``
    steps, then cosine to 0 at ``total`` (open_clip's ``cosine_lr``); ``kind="constant"`` keeps lr
    after warmup. Its state is just the step counter."""

    def __init__(
        self, optimizer: torch.optim.Optimizer, warmup: int, total: int, kind: str = "cosine"
    ) -> None:
        if kind not in ("cosine", "constant"):
            raise ValueError(f"schedule kind must be cosine or constant, got {kind!r}")
        self.optimizer = optimizer
        self.warmup = warmup
        self.total = total
        self.kind = kind
        self.base_lrs = [g.setdefault("initial_lr", g["lr"]) for g in optimizer.param_groups]
        self.step_count = 0
        self._apply()

    def factor(self, step: int) -> float:
        """lr multiplier at optimizer step ``step`` (0-based)."""
        if step < self.warmup:
            return (step + 1) / self.warmup
        if self.kind == "constant":
            return 1.0
        span = self.total - self.warmup
        if span <= 0:
            return 1.0
        progress = min(step - self.warmup, span) / span
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    def _apply(self) -> None:
        f = self.factor(self.step_count)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            group["lr"] = base * f

    def step(self) -> None:
        """Advance one optimizer step and set the next step's lr."""
        self.step_count += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, int]:
        return {"step_count": self.step_count, "warmup": self.warmup, "total": self.total}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.step_count = int(state["step_count"])
        self._apply()
