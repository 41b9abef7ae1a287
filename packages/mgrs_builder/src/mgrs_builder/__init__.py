"""mgrs_builder: regenerate MGRS-style region-category image-text shards from public RS datasets.

The public API is re-exported here and imported lazily (PEP 562), so ``import mgrs_builder`` does
no I/O, stays light, and never imports torch (only the ``hf:`` captioner does, when used).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # build
    "build_dataset": "build", "BuildReport": "build", "SourceReport": "build", "parse_source_spec": "build",
    # shards and schema
    "ShardWriter": "shards", "read_manifest": "shards", "list_shards": "shards", "iter_rows": "shards",
    "SCHEMA_VERSION": "schema", "arrow_schema": "schema", "tile_key": "schema",
    # records and errors
    "SourceImage": "records", "SourceObject": "records", "Rejection": "records",
    "MgrsBuilderError": "errors", "SourceNotFoundError": "errors", "AnnotationParseError": "errors",
    "UnknownCategoryError": "errors", "RecordValidationError": "errors", "SchemaMismatchError": "errors",
    # parts
    "tile_windows": "tiling", "TilingConfig": "tiling",
    "Caption": "captions", "Captioner": "captions", "TemplateCaptioner": "captions", "HFCaptioner": "captions",
    "make_captioner": "captions",
    "LeakageConfig": "leakage", "LeakageGuard": "leakage",
    "validate_dataset": "validate", "ValidationResult": "validate",
    "import_farslip": "interop", "export_farslip": "interop",
    "render_card": "card", "publish": "hub", "planned_files": "hub",
    "get_reader": "sources", "list_readers": "sources",
    "Vocabulary": "categories", "Category": "categories",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mgrs_builder' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"mgrs_builder.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from .build import BuildReport, SourceReport, build_dataset, parse_source_spec
    from .captions import Caption, Captioner, HFCaptioner, TemplateCaptioner, make_captioner
    from .card import render_card
    from .categories import Category, Vocabulary
    from .errors import (AnnotationParseError, MgrsBuilderError, RecordValidationError, SchemaMismatchError,
                         SourceNotFoundError, UnknownCategoryError)
    from .hub import planned_files, publish
    from .interop import export_farslip, import_farslip
    from .leakage import LeakageConfig, LeakageGuard
    from .records import Rejection, SourceImage, SourceObject
    from .schema import SCHEMA_VERSION, arrow_schema, tile_key
    from .shards import ShardWriter, iter_rows, list_shards, read_manifest
    from .sources import get_reader, list_readers
    from .tiling import TilingConfig, tile_windows
    from .validate import ValidationResult, validate_dataset
