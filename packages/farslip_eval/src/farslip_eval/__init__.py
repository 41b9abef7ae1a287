"""farslip_eval: OVSS, zero-shot classification and retrieval suites for any open_clip-loadable model.

Heavy modules (torch, open_clip) are imported on first use of a public name, so ``farslip-eval --help``
stays quick.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "run_suite": "farslip_eval.suites",
    "run_datasets": "farslip_eval.suites",
    "SuiteReport": "farslip_eval.suites",
    "load_encoder": "farslip_eval.encoders",
    "ImageTextEncoder": "farslip_eval.encoders",
    "NoDenseReadoutError": "farslip_eval.encoders",
    "discover": "farslip_eval.registry",
    "all_entries": "farslip_eval.registry",
    "DatasetEntry": "farslip_eval.registry",
    "read_results": "farslip_eval.results",
    "write_result": "farslip_eval.results",
    "DatasetError": "farslip_eval.dataset_errors",
    "build_table": "farslip_eval.table",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'farslip_eval' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
