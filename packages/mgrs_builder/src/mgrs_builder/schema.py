"""The shard schema: the single source of truth shared by the writer (mgrs_builder) and readers
(farslip_model's dataset, exporters, validators).

One row per tile. Boxes and polygons are in tile pixel coordinates. The image column follows the
Hugging Face ``datasets`` ``Image`` feature (a struct of ``bytes`` and ``path``).
"""

from __future__ import annotations

import json

import pyarrow as pa

SCHEMA_VERSION = "1"
SCHEMA_VERSION_KEY = b"mgrs_schema_version"
MANIFEST_NAME = "manifest.json"
REPORT_NAME = "build_report.json"
DATA_DIR = "data"
SHARD_PATTERN = "{split}-{index:05d}-of-{count:05d}.parquet"

OBJECT_TYPE = pa.struct(
    [
        pa.field("bbox", pa.list_(pa.float32(), 4)),  # x1, y1, x2, y2 in tile pixels
        pa.field("polygon", pa.list_(pa.float32())),  # flat x1, y1, x2, y2, ... in tile pixels
        pa.field("category", pa.string()),  # canonical name
        pa.field("category_id", pa.int32()),  # canonical id (stable, append-only)
        pa.field("parent_category", pa.string()),  # coarser canonical name (FAIR1M fine classes), or null
        pa.field("source_category", pa.string()),  # the source's own label, verbatim
        pa.field("truncated", pa.bool_()),  # cut by the tile border
        pa.field("difficult", pa.bool_()),
        pa.field("visible_fraction", pa.float32()),  # area inside the tile / full area
    ]
)

IMAGE_TYPE = pa.struct([pa.field("bytes", pa.binary()), pa.field("path", pa.string())])

FIELDS = [
    pa.field("key", pa.string(), nullable=False),  # stable: "{source}__{image_id}__{x0}_{y0}_{x1}_{y1}"
    pa.field("source", pa.string(), nullable=False),
    pa.field("source_image_id", pa.string(), nullable=False),
    pa.field("split", pa.string(), nullable=False),
    pa.field("image", IMAGE_TYPE),
    pa.field("width", pa.int32()),
    pa.field("height", pa.int32()),
    pa.field("window", pa.list_(pa.int32(), 4)),  # x0, y0, x1, y1 of the tile in the source image
    pa.field("gsd", pa.float64()),  # metres per pixel, or null
    pa.field("objects", pa.list_(OBJECT_TYPE)),
    pa.field("caption_short", pa.string()),
    pa.field("caption_long", pa.string()),
    pa.field("caption_backend", pa.string()),  # "template-v1", "hf", "imported"
    pa.field("caption_model", pa.string()),  # model id for "hf", else null
]

# Hugging Face `datasets` features for the same columns, stored in the Parquet metadata so that
# `load_dataset(folder)` decodes the image column as an Image.
HF_FEATURES = {
    "key": {"dtype": "string", "_type": "Value"},
    "source": {"dtype": "string", "_type": "Value"},
    "source_image_id": {"dtype": "string", "_type": "Value"},
    "split": {"dtype": "string", "_type": "Value"},
    "image": {"_type": "Image"},
    "width": {"dtype": "int32", "_type": "Value"},
    "height": {"dtype": "int32", "_type": "Value"},
    "window": {"feature": {"dtype": "int32", "_type": "Value"}, "length": 4, "_type": "Sequence"},
    "gsd": {"dtype": "float64", "_type": "Value"},
    "objects": {
        "feature": {
            "bbox": {"feature": {"dtype": "float32", "_type": "Value"}, "length": 4, "_type": "Sequence"},
            "polygon": {"feature": {"dtype": "float32", "_type": "Value"}, "_type": "Sequence"},
            "category": {"dtype": "string", "_type": "Value"},
            "category_id": {"dtype": "int32", "_type": "Value"},
            "parent_category": {"dtype": "string", "_type": "Value"},
            "source_category": {"dtype": "string", "_type": "Value"},
            "truncated": {"dtype": "bool", "_type": "Value"},
            "difficult": {"dtype": "bool", "_type": "Value"},
            "visible_fraction": {"dtype": "float32", "_type": "Value"},
        },
        "_type": "Sequence",
    },
    "caption_short": {"dtype": "string", "_type": "Value"},
    "caption_long": {"dtype": "string", "_type": "Value"},
    "caption_backend": {"dtype": "string", "_type": "Value"},
    "caption_model": {"dtype": "string", "_type": "Value"},
}


def arrow_schema() -> pa.Schema:
    """The Arrow schema of a shard, with the schema version and HF features in its metadata."""
    metadata = {
        SCHEMA_VERSION_KEY: SCHEMA_VERSION.encode(),
        b"huggingface": json.dumps({"info": {"features": HF_FEATURES}}).encode(),
    }
    return pa.schema(FIELDS, metadata=metadata)


def tile_key(source: str, image_id: str, window: tuple[int, int, int, int]) -> str:
    """Stable record key of a tile."""
    x0, y0, x1, y1 = window
    return f"{source}__{image_id}__{x0}_{y0}_{x1}_{y1}"
