"""Semantic-segmentation metrics with mmseg ``IoUMetric`` semantics.

Areas are accumulated into one confusion matrix over the whole dataset first; IoU, accuracy and
their means are computed from the totals (no per-image averaging). A class absent from both the
predictions and the ground truth has union 0, so its IoU is NaN and it is left out of the means
(``nanmean``), exactly as mmseg does.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["confusion_matrix", "segmentation_metrics"]


def confusion_matrix(
    pred: torch.Tensor | np.ndarray,
    gt: torch.Tensor | np.ndarray,
    num_classes: int,
    ignore_index: int | None = 255,
) -> torch.Tensor:
    """Return the (num_classes, num_classes) int64 matrix with rows = ground truth, cols = prediction.

    Pixels whose ground truth equals ``ignore_index`` are dropped. Ground-truth or predicted values
    outside ``0..num_classes-1`` fall outside the histogram bins and are not counted (mmseg
    behaviour); validate labels beforehand if such values must be an error.
    """
    p = torch.as_tensor(pred).reshape(-1).to(torch.int64)
    g = torch.as_tensor(gt).reshape(-1).to(torch.int64)
    if p.shape != g.shape:
        raise ValueError(f"prediction has {p.numel()} pixels but ground truth has {g.numel()}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    keep = (g >= 0) & (g < num_classes) & (p >= 0) & (p < num_classes)
    if ignore_index is not None:
        keep &= g != ignore_index
    idx = g[keep] * num_classes + p[keep]
    return torch.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def _pct(value: float) -> float:
    return float("nan") if math.isnan(value) else round(100.0 * value, 2)


def segmentation_metrics(conf: torch.Tensor | np.ndarray) -> dict[str, object]:
    """mIoU, mAcc, aAcc (percent, 2 decimals) and per-class IoU/Acc from an accumulated matrix.

    IoU_c = TP_c / (GT_c + PRED_c - TP_c); Acc_c = TP_c / GT_c; aAcc = sum TP / sum GT. Classes
    with a zero denominator are NaN and excluded from the means. ``per_class_IoU`` and
    ``per_class_Acc`` are lists in class order with NaN kept for absent classes.
    """
    c = torch.as_tensor(conf).to(torch.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"confusion matrix must be square, got shape {tuple(c.shape)}")
    tp = torch.diagonal(c)
    area_gt = c.sum(dim=1)
    area_pred = c.sum(dim=0)
    union = area_gt + area_pred - tp
    iou = torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, float("nan")))
    acc = torch.where(area_gt > 0, tp / area_gt.clamp(min=1), torch.full_like(tp, float("nan")))
    total = float(area_gt.sum())
    a_acc = float(tp.sum()) / total if total > 0 else float("nan")

    def nanmean(x: torch.Tensor) -> float:
        valid = x[~torch.isnan(x)]
        return float(valid.mean()) if valid.numel() else float("nan")

    return {
        "mIoU": _pct(nanmean(iou)),
        "mAcc": _pct(nanmean(acc)),
        "aAcc": _pct(a_acc),
        "per_class_IoU": [_pct(float(v)) for v in iou],
        "per_class_Acc": [_pct(float(v)) for v in acc],
        "num_pixels": int(total),
    }
