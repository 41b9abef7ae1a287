"""Segmentation metrics against hand-worked confusion matrices (mmseg IoUMetric definitions)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from farslip_eval.metrics.segmentation import confusion_matrix, segmentation_metrics


def test_confusion_matrix_rows_are_ground_truth_and_ignore_index_is_dropped() -> None:
    gt = torch.tensor([[0, 0, 1], [1, 2, 255]])
    pred = torch.tensor([[0, 1, 1], [2, 2, 0]])
    conf = confusion_matrix(pred, gt, num_classes=3, ignore_index=255)
    expected = torch.tensor([[1, 1, 0], [0, 1, 1], [0, 0, 1]])
    assert torch.equal(conf, expected)
    assert int(conf.sum()) == 5  # the 255 pixel (predicted 0) is not counted anywhere


def test_values_outside_the_classes_are_not_counted_like_mmseg() -> None:
    conf = confusion_matrix(np.array([0, 5, 1]), np.array([0, 1, 7]), num_classes=2, ignore_index=255)
    assert torch.equal(conf, torch.tensor([[1, 0], [0, 0]]))


def test_hand_worked_metrics() -> None:
    # rows = gt, cols = pred
    conf = torch.tensor([[3, 1, 0], [2, 4, 0], [0, 0, 0]])
    m = segmentation_metrics(conf)
    # IoU0 = 3/(4+5-3) = 0.5 ; IoU1 = 4/(6+5-4) = 4/7 ; class 2 absent from both -> NaN, excluded
    assert m["per_class_IoU"][0] == 50.0
    assert m["per_class_IoU"][1] == round(400 / 7, 2)
    assert math.isnan(m["per_class_IoU"][2])
    assert m["mIoU"] == round(100 * (0.5 + 4 / 7) / 2, 2)
    # Acc0 = 3/4, Acc1 = 4/6 ; aAcc = 7/10
    assert m["mAcc"] == round(100 * (0.75 + 4 / 6) / 2, 2)
    assert m["aAcc"] == 70.0
    assert m["num_pixels"] == 10


def test_class_predicted_but_absent_from_gt_counts_as_zero_iou() -> None:
    conf = torch.tensor([[2, 2], [0, 0]])  # class 1 never in GT but predicted twice
    m = segmentation_metrics(conf)
    assert m["per_class_IoU"] == [50.0, 0.0]
    assert m["mIoU"] == 25.0  # union > 0, so it is 0 and not NaN
    assert m["mAcc"] == 50.0  # Acc of class 1 is NaN (no GT) and excluded
    assert math.isnan(m["per_class_Acc"][1])


def test_areas_are_summed_over_images_before_dividing() -> None:
    a = confusion_matrix(torch.tensor([0, 0]), torch.tensor([0, 1]), 2, 255)
    b = confusion_matrix(torch.tensor([1] * 8), torch.tensor([1] * 8), 2, 255)
    m = segmentation_metrics(a + b)
    # global: IoU1 = 8/9 ; per-image averaging would give (0 + 1)/2 for class 1
    assert m["per_class_IoU"][1] == round(800 / 9, 2)
    assert m["per_class_IoU"][0] == 50.0


def test_bad_shapes_raise() -> None:
    with pytest.raises(ValueError, match="pixels"):
        confusion_matrix(torch.zeros(3), torch.zeros(4), 2)
    with pytest.raises(ValueError, match="square"):
        segmentation_metrics(torch.zeros(2, 3))
