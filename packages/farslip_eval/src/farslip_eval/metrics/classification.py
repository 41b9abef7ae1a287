"""Classification metrics: top-k accuracy, per-class accuracy and their (balanced) mean.

Ties in the logits are broken deterministically: the ranking is a *stable* descending sort, so of two
classes with the same score the one with the lower class index ranks first.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def _check(logits: Tensor, targets: Tensor) -> None:
    if logits.ndim != 2:
        raise ValueError(f"logits must be (N, C), got shape {tuple(logits.shape)}")
    if targets.ndim != 1 or targets.shape[0] != logits.shape[0]:
        raise ValueError(
            f"targets must be (N,) matching logits (N={logits.shape[0]}), got {tuple(targets.shape)}")
    if targets.numel() and (int(targets.min()) < 0 or int(targets.max()) >= logits.shape[1]):
        raise ValueError(f"target labels must lie in [0, {logits.shape[1] - 1}]")


def rank_classes(logits: Tensor) -> Tensor:
    """Class indices of each row from best to worst (stable: ties keep the lower index first)."""
    return torch.sort(logits, dim=1, descending=True, stable=True).indices


def topk_accuracy(logits: Tensor, targets: Tensor, k: int = 1) -> float:
    """Percentage of samples whose target is among the k best-scoring classes.

    Returns NaN when there are no samples or fewer than k classes (as CLIP_benchmark does for top-5).
    """
    _check(logits, targets)
    n, c = logits.shape
    if n == 0 or k > c:
        return math.nan
    top = rank_classes(logits)[:, :k]
    hits = (top == targets[:, None]).any(dim=1)
    return 100.0 * hits.double().mean().item()


def per_class_accuracy(predictions: Tensor, targets: Tensor, num_classes: int) -> list[float]:
    """Per-class recall in percent; NaN for a class with no samples (it is left out of the mean)."""
    if predictions.shape != targets.shape:
        raise ValueError("predictions and targets must have the same shape")
    out: list[float] = []
    for c in range(num_classes):
        mask = targets == c
        total = int(mask.sum())
        out.append(math.nan if total == 0 else 100.0 * int((predictions[mask] == c).sum()) / total)
    return out


def mean_per_class_accuracy(per_class: list[float]) -> float:
    """Balanced accuracy: the mean over classes that have samples (NaN if none has)."""
    present = [v for v in per_class if not math.isnan(v)]
    return sum(present) / len(present) if present else math.nan


def classification_metrics(logits: Tensor, targets: Tensor, classnames: list[str]) -> dict[str, object]:
    """All zero-shot metrics of interfaces 3.2, in percent (NaN values become None for JSON)."""
    _check(logits, targets)
    if logits.shape[1] != len(classnames):
        raise ValueError(f"{logits.shape[1]} logit columns but {len(classnames)} class names")
    preds = rank_classes(logits)[:, 0] if logits.shape[0] else targets.clone()
    per_class = per_class_accuracy(preds, targets, len(classnames))
    return {
        "top1": _nan_to_none(topk_accuracy(logits, targets, 1)),
        "top5": _nan_to_none(topk_accuracy(logits, targets, 5)),
        "mean_per_class_acc": _nan_to_none(mean_per_class_accuracy(per_class)),
        "per_class_acc": {name: _nan_to_none(v) for name, v in zip(classnames, per_class, strict=True)},
        "num_samples": int(targets.shape[0]),
    }


def _nan_to_none(value: float) -> float | None:
    return None if math.isnan(value) else value
