"""Save and load nested trainer state without pickle: tensors to safetensors, the rest to JSON.

Optimizer, scheduler, scaler, RNG and data-position states are nested dicts/lists/tuples of
tensors, numbers and strings. :func:`save_state` writes ``NAME.safetensors`` (every tensor, under a
path-like key) and ``NAME.json`` (the structure, tensors replaced by references); :func:`load_state`
rebuilds the same objects (tuples and integer dict keys included).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file


class TrainStateError(ValueError):
    """A trainer-state file is missing, unreadable or inconsistent."""


def _encode(obj: Any, path: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        tensors[path] = obj.detach().to("cpu").contiguous().clone()
        return {"__tensor__": path}
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": obj.tolist(), "dtype": str(obj.dtype)}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, f"{path}.{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, f"{path}.{i}", tensors) for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _encode(v, f"{path}.{k}", tensors) for k, v in obj.items()}
        return {"__items__": [[_encode(k, f"{path}.k{i}", tensors), _encode(v, f"{path}.{i}", tensors)]
                              for i, (k, v) in enumerate(obj.items())]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} at {path!r} in trainer state (no pickle)")


def _decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            key = obj["__tensor__"]
            if key not in tensors:
                raise TrainStateError(
                    f"tensor {key!r} is referenced in the JSON but missing from the safetensors file"
                )
            return tensors[key]
        if "__ndarray__" in obj:
            return np.asarray(obj["__ndarray__"], dtype=obj["dtype"])
        if "__tuple__" in obj:
            return tuple(_decode(v, tensors) for v in obj["__tuple__"])
        if "__items__" in obj:
            return {_decode(k, tensors): _decode(v, tensors) for k, v in obj["__items__"]}
        return {k: _decode(v, tensors) for k, v in obj.items()}
    return obj


def save_state(state: dict[str, Any], directory: str | Path, name: str) -> None:
    """Write ``directory/name.safetensors`` and ``directory/name.json``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    tree = _encode(state, name, tensors)
    save_file(tensors, str(directory / f"{name}.safetensors"))
    (directory / f"{name}.json").write_text(json.dumps(tree) + "\n", encoding="utf-8")


def load_state(directory: str | Path, name: str) -> dict[str, Any]:
    """Read what :func:`save_state` wrote.

    Raises:
        TrainStateError: a file is missing or unreadable.
    """
    directory = Path(directory)
    json_path, st_path = directory / f"{name}.json", directory / f"{name}.safetensors"
    for p in (json_path, st_path):
        if not p.is_file():
            raise TrainStateError(f"{p}: missing (expected a trainer checkpoint folder)")
    try:
        tree = json.loads(json_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise TrainStateError(f"{json_path}: not valid JSON ({err})") from err
    return _decode(tree, load_file(str(st_path)))


def rng_state() -> dict[str, Any]:
    """Python, numpy, torch (and CUDA) generator states of this process."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore :func:`rng_state`."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
