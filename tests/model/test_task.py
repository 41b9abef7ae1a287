"""The training objective's switches (docs/interfaces.md section 2) and teacher modes."""

from __future__ import annotations

import pytest
import torch

from farslip_model.config import LossConfig
from farslip_model.model import create_model
from farslip_model.task import FarSLIPTask
from farslip_model.teacher import Teacher

B, K, S = 3, 2, 32


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("FarSLIP-Tiny")


def _inputs(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    valid = torch.tensor([[True, True], [True, False], [False, False]])
    texts = ["a satellite image of ship", "a satellite image of car", "a satellite image of ship"]
    return {
        "images": torch.randn(B, 3, S, S, generator=g),
        "tokens": model.tokenize(["one", "two", "three"]),
        "crops": torch.randn(B, K, 3, S, S, generator=g),
        "boxes": torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.25, 0.25, 1.0, 1.0]]).expand(B, K, 4).clone(),
        "valid": valid,
        "labels": torch.tensor([[4, 7], [4, -1], [-1, -1]]),
        "region_tokens": model.tokenize(texts),
    }


@pytest.mark.parametrize(
    "switches",
    [
        {"w_distill": 0.1, "distill_align": "roi2pooled"},
        {"w_distill": 0.1, "distill_align": "roi2cls"},
        {"w_distill": 0.1, "distill_align": "combined"},
        {"w_distill": 0.0, "w_region": 1.0, "region_feature": "crop_cls", "region_loss": "multi_positive"},
        {"w_distill": 0.0, "w_region": 1.0, "region_feature": "roi_pooled", "region_loss": "single_positive"},
        {"w_global": 0.0, "w_distill": 0.0, "w_region": 1.0},
    ],
)
def test_switches_give_finite_weighted_totals(model: torch.nn.Module, switches: dict) -> None:
    cfg = LossConfig(**switches)
    terms = FarSLIPTask(model, cfg)(**_inputs(model))
    weights = {"global": cfg.w_global, "distill": cfg.w_distill, "region": cfg.w_region}
    expected = {n for n, w in weights.items() if w > 0}
    assert set(terms) - {"total"} == expected
    total = sum(weights[n] * terms[n] for n in expected)
    assert torch.allclose(terms["total"], total) and torch.isfinite(terms["total"])
    model.zero_grad()
    terms["total"].backward()
    assert model.clip.logit_scale.grad is not None or cfg.w_global == 0


@pytest.mark.parametrize("mode", ["active", "frozen", "ema"])
def test_teacher_modes_route_gradients(model: torch.nn.Module, mode: str) -> None:
    """Only the active teacher sends distillation gradients through the crop branch."""
    cfg = LossConfig(w_global=0.0, w_distill=1.0, teacher=mode)
    teacher = Teacher(model, mode)
    inputs = _inputs(model)
    inputs["crops"].requires_grad_(True)
    terms = FarSLIPTask(model, cfg, teacher)(**inputs)
    terms["distill"].backward()
    crop_grad = inputs["crops"].grad
    if mode == "active":
        assert crop_grad is not None and crop_grad.abs().sum() > 0
    else:
        assert crop_grad is None
        assert all(p.grad is None for p in teacher.model.parameters())
