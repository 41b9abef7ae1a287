"""Check a built folder: manifest, checksums, schema, keys, boxes inside tiles, category ids, counts."""

from __future__ import annotations

import io
import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from PIL import Image

from .errors import MgrsBuilderError
from .schema import DATA_DIR, SCHEMA_VERSION, SCHEMA_VERSION_KEY, arrow_schema, tile_key
from .shards import read_manifest, sha256_file

logger = logging.getLogger(__name__)

_EPS = 1e-3
_MAX_FAULTS = 200


@dataclass
class ValidationResult:
    """Faults found (empty when the folder is valid) and what was checked."""

    faults: list[str] = field(default_factory=list)
    rows: int = 0
    shards: int = 0
    objects: int = 0
    faults_not_listed: int = 0

    @property
    def ok(self) -> bool:
        """True when no fault was found."""
        return not self.faults

    def add(self, fault: str) -> None:
        """Record a fault (the first ``_MAX_FAULTS`` are kept verbatim, the rest counted)."""
        if len(self.faults) < _MAX_FAULTS:
            self.faults.append(fault)
        else:
            self.faults_not_listed += 1


def _check_row(row: dict[str, Any], where: str, cat_ids: dict[str, int], res: ValidationResult,
               decode_images: bool) -> None:
    key = row["key"]
    window = row["window"]
    w, h = row["width"], row["height"]
    if window is None or len(window) != 4:
        res.add(f"{where}: record {key!r}: window {window!r} is not 4 integers")
        return
    if key != tile_key(row["source"], row["source_image_id"], tuple(window)):
        res.add(f"{where}: record {key!r}: key does not match source/image id/window "
                f"(expected {tile_key(row['source'], row['source_image_id'], tuple(window))!r})")
    if w != window[2] - window[0] or h != window[3] - window[1] or w <= 0 or h <= 0:
        res.add(f"{where}: record {key!r}: size {w}x{h} does not match window {window}")
    if not (row.get("caption_short") or "").strip() or not (row.get("caption_long") or "").strip():
        res.add(f"{where}: record {key!r}: empty caption")
    image = row.get("image") or {}
    if not image.get("bytes"):
        res.add(f"{where}: record {key!r}: no image bytes")
    elif decode_images:
        try:
            with Image.open(io.BytesIO(image["bytes"])) as im:
                size = im.size
        except OSError as err:
            res.add(f"{where}: record {key!r}: image does not decode ({err})")
        else:
            if size != (w, h):
                res.add(f"{where}: record {key!r}: image is {size[0]}x{size[1]}, record says {w}x{h}")
    for j, obj in enumerate(row.get("objects") or ()):
        res.objects += 1
        x1, y1, x2, y2 = obj["bbox"]
        coords = list(obj["bbox"]) + list(obj["polygon"] or ())
        if any(not math.isfinite(c) for c in coords):
            res.add(f"{where}: record {key!r} object {j}: non-finite coordinate")
            continue
        if not (-_EPS <= x1 < x2 <= w + _EPS and -_EPS <= y1 < y2 <= h + _EPS):
            res.add(f"{where}: record {key!r} object {j}: bbox {[x1, y1, x2, y2]} not inside the {w}x{h} tile")
        poly = obj["polygon"] or []
        if len(poly) % 2 or len(poly) < 6:
            res.add(f"{where}: record {key!r} object {j}: polygon has {len(poly)} values (expected >= 3 x,y pairs)")
        elif any(not (-_EPS <= v <= lim + _EPS) for v, lim in zip(poly, [w, h] * (len(poly) // 2), strict=True)):
            res.add(f"{where}: record {key!r} object {j}: polygon leaves the tile")
        expected_id = cat_ids.get(obj["category"])
        if expected_id is None:
            res.add(f"{where}: record {key!r} object {j}: category {obj['category']!r} not in the manifest")
        elif expected_id != obj["category_id"]:
            res.add(f"{where}: record {key!r} object {j}: category {obj['category']!r} has id "
                    f"{obj['category_id']}, manifest says {expected_id}")
        vf = obj.get("visible_fraction")
        if vf is not None and not 0.0 < vf <= 1.0 + 1e-6:
            res.add(f"{where}: record {key!r} object {j}: visible_fraction {vf} outside (0, 1]")


def validate_dataset(dataset_dir: Path | str, *, decode_images: bool = True) -> ValidationResult:
    """Validate a built folder; never raises on a fault, returns them all (named by file and record).

    Args:
        dataset_dir: folder written by ``mgrs build`` or ``mgrs import-farslip``.
        decode_images: also decode every tile's header to compare its size.
    """
    d = Path(dataset_dir)
    res = ValidationResult()
    try:
        manifest = read_manifest(d)
    except (MgrsBuilderError, OSError) as err:
        res.add(str(err))
        return res
    cat_ids = {c["name"]: int(c["id"]) for c in manifest.get("categories", [])}
    if len(set(cat_ids.values())) != len(cat_ids):
        res.add(f"{d}/manifest.json: category ids repeat")
    expected = arrow_schema()
    keys: dict[str, str] = {}
    by_source: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    listed = set()
    for split, info in manifest["splits"].items():
        n_split = 0
        for shard in info["shards"]:
            path = d / shard["path"]
            listed.add(path.name)
            res.shards += 1
            if not path.is_file():
                res.add(f"{path}: listed in the manifest but missing")
                continue
            if path.stat().st_size != shard["bytes"] or sha256_file(path) != shard["sha256"]:
                res.add(f"{path}: checksum or size differs from the manifest")
            try:
                pf = pq.ParquetFile(path)
            except Exception as err:  # pyarrow raises several types for broken files
                res.add(f"{path}: not a readable Parquet file ({err})")
                continue
            schema = pf.schema_arrow
            version = (schema.metadata or {}).get(SCHEMA_VERSION_KEY, b"").decode()
            if version != SCHEMA_VERSION:
                res.add(f"{path}: schema version {version!r}, expected {SCHEMA_VERSION!r}")
            if not schema.remove_metadata().equals(expected.remove_metadata()):
                res.add(f"{path}: columns differ from schema.arrow_schema()")
                continue
            rows_here = 0
            for batch in pf.iter_batches(batch_size=64):
                for i, row in enumerate(batch.to_pylist()):
                    rows_here += 1
                    where = f"{path.name}"
                    if row["key"] in keys:
                        res.add(f"{where}: duplicate key {row['key']!r} (also in {keys[row['key']]})")
                    keys[row["key"]] = path.name
                    if row["split"] != split:
                        res.add(f"{where}: record {row['key']!r} has split {row['split']!r} in a {split!r} shard")
                    by_source[row["source"]] += 1
                    for obj in row.get("objects") or ():
                        by_category[obj["category"]] += 1
                    _check_row(row, where, cat_ids, res, decode_images)
            if rows_here != shard["rows"]:
                res.add(f"{path}: {rows_here} rows, manifest says {shard['rows']}")
            n_split += rows_here
        res.rows += n_split
        if n_split != info["rows"]:
            res.add(f"{d}/manifest.json: split {split!r} has {n_split} rows, manifest says {info['rows']}")
    data_dir = d / DATA_DIR
    for extra in sorted(p.name for p in data_dir.glob("*.parquet")) if data_dir.is_dir() else []:
        if extra not in listed:
            res.add(f"{data_dir / extra}: shard not listed in the manifest")
    counts = manifest.get("counts", {})
    if dict(by_source) != counts.get("by_source", {}):
        res.add(f"{d}/manifest.json: counts.by_source {counts.get('by_source')} != rows {dict(by_source)}")
    if dict(by_category) != counts.get("by_category", {}):
        res.add(f"{d}/manifest.json: counts.by_category differs from the objects in the shards")
    logger.info("validated %d rows in %d shards: %d faults", res.rows, res.shards, len(res.faults))
    return res
