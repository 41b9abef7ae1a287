"""FarSLIP losses as plain functions on tensors (spec 3.3 and 3.4).

Conventions: feature vectors may arrive unnormalised and are L2-normalised here; ``logit_scale`` is
the multiplier (exp of the learned parameter, clamped by the caller as open_clip does). Cross-rank
gathering follows the reference: the global loss gathers without gradient except for this rank's
slice (open_clip ``ClipLoss``), the region loss gathers with gradient, the distillation loss is local.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.ops import roi_align

from farslip_model.distributed import all_gather_no_grad, all_gather_with_grad
from farslip_model.teacher import TEACHER_MODES, Teacher

DistillAlign = Literal["roi2pooled", "roi2cls", "combined"]
RegionLossVariant = Literal["multi_positive", "single_positive"]
DISTILL_ALIGNS: tuple[str, ...] = ("roi2pooled", "roi2cls", "combined")
REGION_LOSS_VARIANTS: tuple[str, ...] = ("multi_positive", "single_positive")


def _zero_like_graph(*tensors: Tensor) -> Tensor:
    """A scalar 0 that stays connected to the inputs' graph (so backward and DDP still work)."""
    return sum((t.sum() * 0.0 for t in tensors), torch.zeros((), device=tensors[0].device))


def _symmetric_ce(logits: Tensor, labels: Tensor) -> Tensor:
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


def global_contrastive_loss(
    image_features: Tensor, text_features: Tensor, logit_scale: Tensor | float, *, gather: bool = True
) -> Tensor:
    """Symmetric InfoNCE over the (global) batch: (B, D) images vs (B, D) texts, pairs on the diagonal."""
    if image_features.ndim != 2 or image_features.shape != text_features.shape:
        raise ValueError(
            f"image_features and text_features must both be (B, D); got {tuple(image_features.shape)} "
            f"and {tuple(text_features.shape)}"
        )
    img = F.normalize(image_features, dim=-1)
    txt = F.normalize(text_features, dim=-1)
    if gather:
        img, txt = all_gather_no_grad(img), all_gather_no_grad(txt)
    logits = logit_scale * img @ txt.T
    return _symmetric_ce(logits, torch.arange(logits.shape[0], device=logits.device))


def _as_grid(dense: Tensor, grid_size: tuple[int, int] | None, name: str) -> tuple[Tensor, int, int]:
    """(B, N, D) or (B, h, w, D) -> ((B, D, h, w), h, w)."""
    if dense.ndim == 4:
        b, h, w, d = dense.shape
    elif dense.ndim == 3:
        b, n, d = dense.shape
        if grid_size is None:
            side = int(round(n**0.5))
            if side * side != n:
                raise ValueError(f"{name} has N={n} tokens, not a square grid; pass grid_size=(h, w)")
            grid_size = (side, side)
        h, w = grid_size
        if h * w != n:
            raise ValueError(f"{name} has N={n} tokens but grid_size={grid_size}")
    else:
        raise ValueError(f"{name} must be (B, N, D) or (B, h, w, D), got {tuple(dense.shape)}")
    return dense.reshape(b, h, w, d).permute(0, 3, 1, 2), h, w


def roi_align_mean(dense_global: Tensor, boxes: Tensor, grid_size: tuple[int, int] | None = None) -> Tensor:
    """Region features (B, K, D): RoIAlign over the full token grid (output size = grid, spatial
    scale 1, adaptive sampling, aligned=True) of boxes normalised to [0, 1], then the spatial mean."""
    fmap, h, w = _as_grid(dense_global, grid_size, "dense_global")
    if boxes.ndim != 3 or boxes.shape[-1] not in (4, 5) or boxes.shape[0] != fmap.shape[0]:
        raise ValueError(f"boxes must be (B, K, 4) with B={fmap.shape[0]}, got {tuple(boxes.shape)}")
    scale = boxes.new_tensor([w, h, w, h])
    rois = [b[:, :4].to(fmap.dtype) * scale.to(fmap.dtype) for b in boxes]
    pooled = roi_align(fmap, rois, output_size=(h, w), spatial_scale=1.0, sampling_ratio=-1, aligned=True)
    return pooled.mean(dim=(-2, -1)).reshape(boxes.shape[0], boxes.shape[1], -1)


def patch_distillation_loss(
    dense_global: Tensor,
    boxes: Tensor,
    dense_crops: Tensor,
    align: DistillAlign = "roi2pooled",
    crop_cls: Tensor | None = None,
    valid: Tensor | None = None,
    *,
    grid_size: tuple[int, int] | None = None,
) -> Tensor:
    """mean over valid regions of (1 - cos(student, target)).

    Student: RoIAlign-mean of ``dense_global`` (B, N, D) over ``boxes`` (B, K, 4; x1, y1, x2, y2 in
    [0, 1]). Target: ``roi2pooled`` the mean patch embedding of ``dense_crops`` (B, K, N', D);
    ``roi2cls`` ``crop_cls`` (B, K, D); ``combined`` the average of both losses. No stop-gradient:
    detach or use a no-grad teacher upstream for the ``ema``/``frozen`` modes.
    """
    if align not in DISTILL_ALIGNS:
        raise ValueError(f"align must be one of {DISTILL_ALIGNS}, got {align!r}")
    if align != "roi2pooled" and crop_cls is None:
        raise ValueError(f"align={align!r} needs crop_cls (B, K, D)")
    student = F.normalize(roi_align_mean(dense_global, boxes, grid_size), dim=-1)
    b, k = student.shape[:2]
    losses = []
    if align in ("roi2pooled", "combined"):
        if dense_crops.ndim == 5:
            dense_crops = dense_crops.flatten(2, 3)
        if dense_crops.ndim != 4 or dense_crops.shape[:2] != (b, k):
            raise ValueError(f"dense_crops must be (B={b}, K={k}, N, D), got {tuple(dense_crops.shape)}")
        target = F.normalize(dense_crops.mean(dim=2), dim=-1)
        losses.append(1.0 - (student * target).sum(-1))
    if align in ("roi2cls", "combined"):
        assert crop_cls is not None
        if crop_cls.shape[:2] != (b, k):
            raise ValueError(f"crop_cls must be (B={b}, K={k}, D), got {tuple(crop_cls.shape)}")
        losses.append(1.0 - (student * F.normalize(crop_cls, dim=-1)).sum(-1))
    per_region = losses[0] if len(losses) == 1 else 0.5 * (losses[0] + losses[1])  # (B, K)
    if valid is None and boxes.shape[-1] == 5:
        valid = boxes[..., 4] > 0
    if valid is None:
        return per_region.mean()
    valid = valid.to(torch.bool)
    if valid.shape != (b, k):
        raise ValueError(f"valid must be (B={b}, K={k}), got {tuple(valid.shape)}")
    if not valid.any():
        return _zero_like_graph(per_region)
    return per_region[valid].mean()


def region_category_loss(
    region_features: Tensor,
    text_features: Tensor,
    labels: Tensor,
    logit_scale: Tensor | float,
    *,
    variant: RegionLossVariant = "multi_positive",
    gather: bool = True,
) -> Tensor:
    """Region-category alignment over (M, D) regions, (M, D) texts (one per region) and (M,) labels.

    Rows with label -1 (padding, free-text captions) are dropped after the cross-rank gather (with
    gradient). ``multi_positive`` (MPCL): targets Y_ij = 1[y_i = y_j] / #same, loss
    0.5 * (CE(S, Y) + CE(S^T, Y)). ``single_positive``: plain symmetric InfoNCE on the kept rows.
    """
    if variant not in REGION_LOSS_VARIANTS:
        raise ValueError(f"variant must be one of {REGION_LOSS_VARIANTS}, got {variant!r}")
    if region_features.ndim != 2 or region_features.shape != text_features.shape:
        raise ValueError(
            f"region_features and text_features must both be (M, D); got {tuple(region_features.shape)} "
            f"and {tuple(text_features.shape)}"
        )
    if labels.shape != region_features.shape[:1]:
        raise ValueError(f"labels must be (M={region_features.shape[0]},), got {tuple(labels.shape)}")
    img = F.normalize(region_features, dim=-1)
    txt = F.normalize(text_features, dim=-1)
    labels = labels.to(device=img.device, dtype=torch.long)
    if gather:
        img, txt, labels = all_gather_with_grad(img), all_gather_with_grad(txt), all_gather_no_grad(labels)
    keep = labels >= 0
    if not keep.any():
        return _zero_like_graph(region_features, text_features)
    img, txt, labels = img[keep], txt[keep], labels[keep]
    logits = logit_scale * img @ txt.T
    if variant == "single_positive":
        return _symmetric_ce(logits, torch.arange(logits.shape[0], device=logits.device))
    same = (labels[:, None] == labels[None, :]).to(logits.dtype)
    target = same / same.sum(dim=1, keepdim=True)
    loss_i = -(target * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    loss_t = -(target * F.log_softmax(logits.T, dim=1)).sum(dim=1).mean()
    return 0.5 * (loss_i + loss_t)


__all__ = [
    "DISTILL_ALIGNS",
    "REGION_LOSS_VARIANTS",
    "TEACHER_MODES",
    "Teacher",
    "global_contrastive_loss",
    "patch_distillation_loss",
    "region_category_loss",
    "roi_align_mean",
]
