"""Result files: one JSON per (model, dataset) at ``OUT/{model_slug}/{suite}/{dataset}.json``.

Layout (docs/interfaces.md section 3.2): ``schema_version``, ``suite``, ``dataset``, ``model``
(provenance), ``metrics`` (percentages), ``protocol`` (every setting that changes the numbers) and
``timings`` (seconds, plus the UTC start time). NaN metrics are written as ``null``.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
REQUIRED_KEYS: tuple[str, ...] = (
    "schema_version", "suite", "dataset", "model", "metrics", "protocol", "timings",
)


class ResultFileError(ValueError):
    """A result JSON that is not valid or has another schema version."""


def slugify(text: str) -> str:
    """A file-system-safe name: ``/``, ``:`` and spaces become ``_``; other odd characters dropped."""
    slug = re.sub(r"[^A-Za-z0-9._+-]+", "_", text.strip()).strip("._")
    return slug or "model"


def model_slug(model: Mapping[str, Any] | str) -> str:
    """The folder name of a model: its provenance ``slug`` or ``name`` (or the string given)."""
    if isinstance(model, str):
        return slugify(model)
    return slugify(str(model.get("slug") or model.get("name") or "model"))


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return _clean(value.item())
    return value


def make_result(suite: str, dataset: str, model: Mapping[str, Any], metrics: Mapping[str, Any],
                protocol: Mapping[str, Any], timings: Mapping[str, Any]) -> dict[str, Any]:
    """A result dict in the schema above (values made JSON-safe)."""
    return _clean({
        "schema_version": SCHEMA_VERSION,
        "suite": suite,
        "dataset": dataset,
        "model": dict(model),
        "metrics": dict(metrics),
        "protocol": dict(protocol),
        "timings": dict(timings),
    })


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def result_path(out_dir: Path | str, result: Mapping[str, Any]) -> Path:
    folder = Path(out_dir) / model_slug(result["model"]) / result["suite"]
    return folder / f"{slugify(result['dataset'])}.json"


def write_result(result: Mapping[str, Any], out_dir: Path | str) -> Path:
    """Write ``result`` atomically to its place under ``out_dir`` and return the path."""
    validate_result(result, "<in memory>")
    path = result_path(out_dir, result)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def validate_result(result: Any, source: str) -> None:
    """Raise :class:`ResultFileError` unless ``result`` follows the schema."""
    if not isinstance(result, Mapping):
        raise ResultFileError(f"{source}: expected a JSON object")
    missing = [k for k in REQUIRED_KEYS if k not in result]
    if missing:
        raise ResultFileError(f"{source}: missing keys {missing}")
    if result["schema_version"] != SCHEMA_VERSION:
        raise ResultFileError(
            f"{source}: schema_version {result['schema_version']!r}, expected {SCHEMA_VERSION}")
    for key in ("model", "metrics", "protocol", "timings"):
        if not isinstance(result[key], Mapping):
            raise ResultFileError(f"{source}: {key!r} must be an object")


def read_result(path: Path | str) -> dict[str, Any]:
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ResultFileError(f"{p}: invalid JSON ({exc})") from None
    validate_result(doc, str(p))
    return doc


def read_results(directory: Path | str) -> list[dict[str, Any]]:
    """Every result JSON under ``directory`` (recursively, sorted by path)."""
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: results folder not found")
    return [read_result(p) for p in sorted(root.rglob("*.json"))]
