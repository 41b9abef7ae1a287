"""Open-vocabulary semantic segmentation (OVSS) suite: specs, data, inference, evaluation."""

from farslip_eval.ovss.data import DatasetNotFoundError, OvssDataError, OvssDataset, read_image, read_label
from farslip_eval.ovss.evaluate import evaluate
from farslip_eval.ovss.inference import OvssPredictor, build_text_classifier, slide_logits, window_offsets
from farslip_eval.ovss.specs import BUILTIN_SPECS, ISAID_PALETTE, OvssSpec, SpecError, get_spec, list_specs

__all__ = [
    "BUILTIN_SPECS",
    "ISAID_PALETTE",
    "DatasetNotFoundError",
    "OvssDataError",
    "OvssDataset",
    "OvssPredictor",
    "OvssSpec",
    "SpecError",
    "build_text_classifier",
    "evaluate",
    "get_spec",
    "list_specs",
    "read_image",
    "read_label",
    "slide_logits",
    "window_offsets",
]
