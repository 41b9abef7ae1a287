"""FarSLIP on top of open_clip: dense readout, Long-CLIP text, losses, checkpoints and training.

Importing the package is cheap: the public names below are resolved lazily on first use, and the
``FarSLIP-Tiny`` architecture is registered with open_clip as soon as ``farslip_model.model`` (or any
public name) is imported. If open_clip is already imported, registration happens right here.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "create_model": "farslip_model.model",
    "FarSLIPModel": "farslip_model.model",
    "list_models": "farslip_model.model",
    "UnknownArchitectureError": "farslip_model.model",
    "save_checkpoint": "farslip_model.checkpoint",
    "load_checkpoint": "farslip_model.checkpoint",
    "load_state_dict_flexible": "farslip_model.checkpoint",
    "LoadReport": "farslip_model.checkpoint",
    "CheckpointError": "farslip_model.checkpoint",
    "register_model_configs": "farslip_model._registry",
    "train": "farslip_model.train",
    "TrainResult": "farslip_model.train",
    "TrainConfig": "farslip_model.config",
    "load_config": "farslip_model.config",
    "ConfigError": "farslip_model.config",
    "TrainDataset": "farslip_model.data",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'farslip_model' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if "open_clip" in sys.modules:  # registration is free once open_clip is loaded
    from farslip_model._registry import register_model_configs as _register

    _register()
