"""Open-vocabulary semantic segmentation (OVSS) suite: specs, data, inference, evaluation.

Specs and data readers import without torch; ``evaluate`` and the inference helpers load lazily so that
listing datasets stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from farslip_eval.ovss.specs import BUILTIN_SPECS, ISAID_PALETTE, OvssSpec, SpecError, get_spec, list_specs

_LAZY = {
    "DatasetNotFoundError": "farslip_eval.ovss.data",
    "OvssDataError": "farslip_eval.ovss.data",
    "OvssDataset": "farslip_eval.ovss.data",
    "read_image": "farslip_eval.ovss.data",
    "read_label": "farslip_eval.ovss.data",
    "evaluate": "farslip_eval.ovss.evaluation",
    "OvssPredictor": "farslip_eval.ovss.inference",
    "build_text_classifier": "farslip_eval.ovss.inference",
    "slide_logits": "farslip_eval.ovss.inference",
    "window_offsets": "farslip_eval.ovss.inference",
}

__all__ = ["BUILTIN_SPECS", "ISAID_PALETTE", "OvssSpec", "SpecError", "get_spec", "list_specs", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'farslip_eval.ovss' has no attribute {name!r}")
