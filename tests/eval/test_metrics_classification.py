"""Classification metrics against hand-worked examples (ties, empty classes, fewer than 5 classes)."""

from __future__ import annotations

import math

import pytest
import torch

from farslip_eval.metrics.classification import (
    classification_metrics,
    mean_per_class_accuracy,
    per_class_accuracy,
    rank_classes,
    topk_accuracy,
)


def test_top1_top5_hand_worked() -> None:
    # 6 classes, 4 samples. Ranks of the target: 0, 2, 5, 4 (0-based).
    logits = torch.tensor([
        [9.0, 1, 2, 3, 4, 5],  # target 0 -> rank 0
        [1.0, 9, 8, 7, 2, 3],  # target 3 -> rank 2 (order 1,2,3,...)
        [6.0, 5, 4, 3, 2, 1],  # target 5 -> rank 5
        [6.0, 5, 4, 3, 2, 1],  # target 4 -> rank 4
    ])
    targets = torch.tensor([0, 3, 5, 4])
    assert topk_accuracy(logits, targets, 1) == pytest.approx(25.0)
    assert topk_accuracy(logits, targets, 3) == pytest.approx(50.0)
    assert topk_accuracy(logits, targets, 5) == pytest.approx(75.0)
    assert topk_accuracy(logits, targets, 6) == pytest.approx(100.0)


def test_ties_rank_lower_class_index_first() -> None:
    logits = torch.tensor([[1.0, 1.0, 1.0], [0.0, 2.0, 2.0]])
    assert rank_classes(logits).tolist() == [[0, 1, 2], [1, 2, 0]]
    # sample 0: target 2 tied with 0 and 1 -> rank 2; sample 1: target 2 tied with 1 -> rank 1
    targets = torch.tensor([2, 2])
    assert topk_accuracy(logits, targets, 1) == 0.0
    assert topk_accuracy(logits, targets, 2) == pytest.approx(50.0)
    assert topk_accuracy(logits, targets, 3) == pytest.approx(100.0)


def test_top5_is_nan_with_fewer_than_five_classes_and_none_in_metrics() -> None:
    logits = torch.eye(3)
    targets = torch.tensor([0, 1, 2])
    assert math.isnan(topk_accuracy(logits, targets, 5))
    m = classification_metrics(logits, targets, ["a", "b", "c"])
    assert m["top1"] == 100.0 and m["top5"] is None and m["mean_per_class_acc"] == 100.0


def test_per_class_and_balanced_accuracy_with_an_empty_class() -> None:
    preds = torch.tensor([0, 0, 0, 1, 1, 0])
    targets = torch.tensor([0, 0, 0, 0, 1, 1])  # class 0: 3/4, class 1: 1/2, class 2: no samples
    per = per_class_accuracy(preds, targets, 3)
    assert per[0] == pytest.approx(75.0) and per[1] == pytest.approx(50.0) and math.isnan(per[2])
    assert mean_per_class_accuracy(per) == pytest.approx(62.5)  # empty class left out, not counted as 0
    logits = torch.nn.functional.one_hot(preds, 3).float()
    m = classification_metrics(logits, targets, ["x", "y", "z"])
    assert m["top1"] == pytest.approx(100 * 4 / 6)
    assert m["per_class_acc"] == {"x": pytest.approx(75.0), "y": pytest.approx(50.0), "z": None}
    assert m["mean_per_class_acc"] == pytest.approx(62.5)


def test_empty_and_bad_inputs() -> None:
    empty = torch.zeros(0, 4)
    assert math.isnan(topk_accuracy(empty, torch.zeros(0, dtype=torch.long), 1))
    assert math.isnan(mean_per_class_accuracy([math.nan, math.nan]))
    with pytest.raises(ValueError, match="target labels"):
        topk_accuracy(torch.zeros(2, 3), torch.tensor([0, 3]), 1)
    with pytest.raises(ValueError, match="class names"):
        classification_metrics(torch.zeros(2, 3), torch.tensor([0, 1]), ["a", "b"])
