"""Metrics for the three suites: segmentation (confusion matrix), classification and retrieval."""

from farslip_eval.metrics.classification import (
    classification_metrics,
    mean_per_class_accuracy,
    per_class_accuracy,
    rank_classes,
    topk_accuracy,
)
from farslip_eval.metrics.retrieval import first_positive_rank, recall_at_k, retrieval_metrics
from farslip_eval.metrics.segmentation import confusion_matrix, segmentation_metrics

__all__ = [
    "classification_metrics",
    "confusion_matrix",
    "first_positive_rank",
    "mean_per_class_accuracy",
    "per_class_accuracy",
    "rank_classes",
    "recall_at_k",
    "retrieval_metrics",
    "segmentation_metrics",
    "topk_accuracy",
]
