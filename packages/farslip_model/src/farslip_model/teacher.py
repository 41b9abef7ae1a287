"""Distillation teacher modes (spec 3.3): ``active`` (the student itself, with gradients; the reference
default), ``ema`` (a no-grad copy updated by exponential moving average) and ``frozen`` (a no-grad copy)."""

from __future__ import annotations

import copy
from typing import Literal

import torch
from torch import nn

TeacherMode = Literal["active", "ema", "frozen"]
TEACHER_MODES: tuple[str, ...] = ("active", "ema", "frozen")


class Teacher:
    """Holds the network that encodes distillation crops.

    ``teacher.model`` is the student itself in ``active`` mode, otherwise a deep copy with
    ``requires_grad=False`` in eval mode. Call :meth:`update` once per optimiser step (a no-op unless
    ``ema``). Use :meth:`context` around the teacher forward: ``torch.no_grad`` for ema/frozen.
    """

    def __init__(self, student: nn.Module, mode: TeacherMode = "active", momentum: float = 0.99) -> None:
        if mode not in TEACHER_MODES:
            raise ValueError(f"teacher mode must be one of {TEACHER_MODES}, got {mode!r}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"EMA momentum must be in [0, 1], got {momentum}")
        self.mode = mode
        self.momentum = momentum
        if mode == "active":
            self.model = student
        else:
            self.model = copy.deepcopy(student).eval()
            for p in self.model.parameters():
                p.requires_grad_(False)

    @property
    def has_copy(self) -> bool:
        return self.mode != "active"

    def context(self) -> torch.autograd.grad_mode.no_grad | torch.autograd.grad_mode.enable_grad:
        return torch.no_grad() if self.has_copy else torch.enable_grad()

    @torch.no_grad()
    def update(self, student: nn.Module) -> None:
        """teacher <- m * teacher + (1 - m) * student, for ``ema`` (parameters and float buffers)."""
        if self.mode != "ema":
            return
        student = getattr(student, "module", student)  # unwrap DistributedDataParallel
        s_state = student.state_dict()
        for name, t in self.model.state_dict().items():
            s = s_state[name]
            if t.dtype.is_floating_point:
                t.mul_(self.momentum).add_(s.detach().to(t.dtype), alpha=1.0 - self.momentum)
            else:
                t.copy_(s)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The copy's weights (empty in ``active`` mode, where the student is the teacher)."""
        return self.model.state_dict() if self.has_copy else {}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if self.has_copy and state:
            self.model.load_state_dict(state)


__all__ = ["TEACHER_MODES", "Teacher", "TeacherMode"]
