"""Zero-shot scene classification (SkyScript-bundle CSVs and folder-per-class trees)."""

from farslip_eval.zeroshot.datasets import (
    ClassificationData,
    load_classification,
    read_class_folders,
    read_skyscript_csv,
)
from farslip_eval.zeroshot.evaluate import class_embeddings, evaluate_classification
from farslip_eval.zeroshot.prompts import SKYSCRIPT_TEMPLATES, TEMPLATE_SETS, resolve_templates

__all__ = [
    "SKYSCRIPT_TEMPLATES",
    "TEMPLATE_SETS",
    "ClassificationData",
    "class_embeddings",
    "evaluate_classification",
    "load_classification",
    "read_class_folders",
    "read_skyscript_csv",
    "resolve_templates",
]
