"""Convert between our shards and the released MGRS-200k layout used by FarSLIP's training code.

That layout (spec: farslip_reference.md 2.1) is ``ROOT/global_imgs/<files>`` plus
``ROOT/text_info.json``, a list with one dict per image::

    {"global_filepath": "a.png", "brief_caption": "...", "detailed_caption": "...",
     "segment": [{"bbox": {"x1": .., "y1": .., "x2": .., "y2": .., "W": .., "H": ..},
                  "category": "plane", "category_id": 0}]}

Only the order of the six ``bbox`` values matters to the reference loader (x1, y1, x2, y2, W, H).
On export we add one extra key per record, ``mgrs`` (ignored by the reference loader), holding what
that layout has no place for (source, window, GSD, polygons, flags, caption provenance), so that an
export followed by an import gives the same records. Files without it import with defaults:
one full-image tile per record, ``source`` from ``--source-name``, captions marked ``imported``.
Regions carrying a free-text ``cap`` (category id -1 in the reference code) have no place in our
schema; they are counted as ``objects_rejected["region_caption"]`` rather than dropped silently.
"""

from __future__ import annotations

import io
import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from .build import BuildReport, SourceReport
from .card import render_card
from .errors import AnnotationParseError, MgrsBuilderError, RecordValidationError, SourceNotFoundError
from .progress import progress_bar
from .records import OnBadRecord
from .schema import REPORT_NAME, tile_key
from .shards import DEFAULT_MAX_SHARD_BYTES, ShardWriter, atomic_write_bytes, atomic_write_json, iter_rows

logger = logging.getLogger(__name__)

IMAGES_DIR = "global_imgs"
TEXT_INFO = "text_info.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ExportResult:
    """What ``export_farslip`` wrote."""

    root: Path
    records: int
    objects: int


def _image_suffix(data: bytes) -> str:
    with Image.open(io.BytesIO(data)) as im:
        return {"PNG": ".png", "JPEG": ".jpg", "TIFF": ".tif", "WEBP": ".webp"}.get(im.format or "", ".png")


def export_farslip(dataset_dir: Path | str, out_dir: Path | str, *, splits: list[str] | None = None,
                   progress: bool = True) -> ExportResult:
    """Write the shards of ``dataset_dir`` (all splits by default) as ``global_imgs/`` + ``text_info.json``.

    Raises:
        SourceNotFoundError: not a built folder.
        MgrsBuilderError: two keys map to the same file name.
    """
    out = Path(out_dir)
    img_dir = out / IMAGES_DIR
    img_dir.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    n_objects = 0
    from .shards import read_manifest

    chosen = splits or sorted(read_manifest(dataset_dir)["splits"])
    for split in chosen:
        for row in progress_bar(iter_rows(dataset_dir, split), desc=f"export {split}", enabled=progress):
            data = row["image"]["bytes"]
            fname = _UNSAFE.sub("_", row["key"]) + _image_suffix(data)
            if fname in names:
                raise MgrsBuilderError(f"keys {names[fname]!r} and {row['key']!r} both map to file {fname}")
            names[fname] = row["key"]
            atomic_write_bytes(img_dir / fname, data)
            w, h = row["width"], row["height"]
            segment, extra_objs = [], []
            for obj in row["objects"] or ():
                x1, y1, x2, y2 = obj["bbox"]
                segment.append({"bbox": {"x1": x1, "y1": y1, "x2": x2, "y2": y2, "W": w, "H": h},
                                "category": obj["category"], "category_id": obj["category_id"]})
                extra_objs.append({k: obj[k] for k in ("polygon", "parent_category", "source_category",
                                                       "truncated", "difficult", "visible_fraction")})
            n_objects += len(segment)
            records.append({
                "global_filepath": fname,
                "brief_caption": row["caption_short"],
                "detailed_caption": row["caption_long"],
                "segment": segment,
                "mgrs": {"key": row["key"], "source": row["source"], "source_image_id": row["source_image_id"],
                         "split": row["split"], "window": row["window"], "gsd": row["gsd"],
                         "image_path": row["image"]["path"], "caption_backend": row["caption_backend"],
                         "caption_model": row["caption_model"], "objects": extra_objs},
            })
    atomic_write_json(out / TEXT_INFO, records)
    logger.info("exported %d records to %s", len(records), out)
    return ExportResult(out, len(records), n_objects)


class _Bad(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason, detail)
        self.reason, self.detail = reason, detail


def _bbox_values(raw: Any) -> list[float]:
    vals = list(raw.values()) if isinstance(raw, Mapping) else list(raw) if isinstance(raw, list | tuple) else []
    if len(vals) not in (4, 6):
        raise _Bad("malformed", f"bbox {raw!r} (expected 6 values x1, y1, x2, y2, W, H)")
    try:
        out = [float(v) for v in vals]
    except (TypeError, ValueError) as err:
        raise _Bad("malformed", f"bbox {raw!r} is not numeric") from err
    if any(not math.isfinite(v) for v in out):
        raise _Bad("nan_coordinates", f"bbox {raw!r} has a non-finite value")
    return out


def import_farslip(src: Path | str, out_dir: Path | str, *, source_name: str = "mgrs200k",
                   split: str = "train", on_bad_record: OnBadRecord = "error",
                   max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES, progress: bool = True) -> BuildReport:
    """Convert ``SRC/global_imgs`` + ``SRC/text_info.json`` into a shard folder at ``out_dir``.

    Raises:
        SourceNotFoundError: missing folder, JSON or image (in ``error`` mode).
        AnnotationParseError: malformed JSON or record (names the record index, 1-based).
        RecordValidationError: a box outside its image, or image size unlike the box's W, H.
    """
    src, out = Path(src), Path(out_dir)
    info_path, img_dir = src / TEXT_INFO, src / IMAGES_DIR
    if not info_path.is_file() or not img_dir.is_dir():
        raise SourceNotFoundError(f"{src}: expected {IMAGES_DIR}/ and {TEXT_INFO} (the MGRS-200k layout)")
    try:
        records = json.loads(info_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise AnnotationParseError(info_path, err.lineno, f"invalid JSON: {err.msg}", "a JSON list") from err
    if not isinstance(records, list):
        raise AnnotationParseError(info_path, None, f"top level is {type(records).__name__}",
                                   "a list of image records")
    sources: dict[str, SourceReport] = {}
    cats: dict[str, tuple[int, str | None]] = {}
    writer = ShardWriter(out, max_shard_bytes=max_shard_bytes)

    def report_for(name: str) -> SourceReport:
        return sources.setdefault(name, SourceReport("mgrs200k" if name == source_name else name, str(src)))

    for idx, rec in enumerate(progress_bar(records, desc="import", enabled=progress), start=1):
        extra = rec.get("mgrs") if isinstance(rec, Mapping) else None
        name = str(extra["source"]) if isinstance(extra, Mapping) and "source" in extra else source_name
        rep = report_for(name)
        rep.images_in += 1
        segment = rec.get("segment", []) if isinstance(rec, Mapping) else []
        n_obj = len(segment) if isinstance(segment, list) else 0
        rep.objects_in += n_obj
        try:
            row = _import_record(rec, idx, img_dir, name, split, cats)
        except _Bad as bad:
            if on_bad_record == "error":
                if bad.reason == "image_missing":
                    raise SourceNotFoundError(f"{info_path}: record {idx}: {bad.detail}") from None
                if bad.reason in ("malformed", "missing_caption"):
                    raise AnnotationParseError(info_path, idx, bad.detail) from None
                raise RecordValidationError(f"{info_path}: record {idx}: {bad.detail}") from None
            rep.images_skipped[bad.reason] = rep.images_skipped.get(bad.reason, 0) + 1
            rep.objects_rejected[bad.reason] = rep.objects_rejected.get(bad.reason, 0) + n_obj
            rep.rejections.append({"reason": bad.reason, "path": str(info_path), "line": idx, "detail": bad.detail})
            continue
        row, n_region_caps = row
        if n_region_caps:
            rep.objects_rejected["region_caption"] = rep.objects_rejected.get("region_caption", 0) + n_region_caps
        rep.objects_kept += len(row["objects"])
        rep.tiles_written += 1
        rep.images_written += 1
        writer.add(row)
    categories = [{"name": n, "id": i, "parent": p} for n, (i, p) in sorted(cats.items(), key=lambda kv: kv[1][0])]
    config = {"imported_from": str(src), "source_name": source_name, "split": split, "on_bad_record": on_bad_record}
    report = BuildReport(out, config, sources)
    report.check_accounting()
    manifest = writer.finish(categories, extra={"sources": {n: {"reader": s.reader, "root": s.root}
                                                            for n, s in sources.items()}})
    report.splits = {k: v["rows"] for k, v in manifest["splits"].items()}
    atomic_write_json(out / REPORT_NAME, report.to_dict())
    atomic_write_bytes(out / "README.md", render_card(manifest, report.to_dict()).encode())
    return report


def _import_record(rec: Any, idx: int, img_dir: Path, name: str, split: str,
                   cats: dict[str, tuple[int, str | None]]) -> tuple[dict[str, Any], int]:
    if not isinstance(rec, Mapping) or not isinstance(rec.get("global_filepath"), str):
        raise _Bad("malformed", "record without a 'global_filepath' string")
    rel = rec["global_filepath"]
    path = img_dir / rel
    if not path.is_file():
        raise _Bad("image_missing", f"image {path} not found")
    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            width, height = im.size
    except OSError as err:
        raise _Bad("corrupt_image", f"image {path} does not decode ({err})") from err
    short = rec.get("brief_caption") or rec.get("global_caption") or rec.get("detailed_caption")
    long = rec.get("detailed_caption") or rec.get("global_caption") or rec.get("brief_caption")
    if not short or not long:
        raise _Bad("missing_caption", "no brief_caption, detailed_caption or global_caption")
    segment = rec.get("segment", [])
    if not isinstance(segment, list):
        raise _Bad("malformed", f"'segment' is {type(segment).__name__} (expected a list)")
    extra = rec.get("mgrs") if isinstance(rec.get("mgrs"), Mapping) else None
    extra_objs = list(extra.get("objects", [])) if extra else []
    objects, region_caps = [], 0
    for j, seg in enumerate(segment):
        if not isinstance(seg, Mapping) or "bbox" not in seg:
            raise _Bad("malformed", f"segment {j} has no 'bbox'")
        if seg.get("cap") is not None:
            region_caps += 1
            continue
        vals = _bbox_values(seg["bbox"])
        x1, y1, x2, y2 = vals[:4]
        if len(vals) == 6 and (int(vals[4]), int(vals[5])) != (width, height):
            raise _Bad("image_size_mismatch", f"segment {j} says the image is {vals[4]:g}x{vals[5]:g}, "
                                              f"{rel} is {width}x{height}")
        if not (0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height):
            raise _Bad("outside_image", f"segment {j} bbox {vals[:4]} not inside the {width}x{height} image")
        category = str(seg.get("category", ""))
        if not category:
            raise _Bad("malformed", f"segment {j} has no category")
        try:
            cat_id = int(seg.get("category_id", -1))
        except (TypeError, ValueError) as err:
            raise _Bad("malformed", f"segment {j} category_id {seg.get('category_id')!r}") from err
        ex = extra_objs[j] if j < len(extra_objs) and isinstance(extra_objs[j], Mapping) else {}
        parent = ex.get("parent_category")
        known = cats.setdefault(category, (cat_id, parent))
        if known[0] != cat_id:
            raise _Bad("malformed", f"segment {j}: category {category!r} has id {cat_id}, earlier {known[0]}")
        objects.append({
            "bbox": [x1, y1, x2, y2],
            "polygon": ex.get("polygon") or [x1, y1, x2, y1, x2, y2, x1, y2],
            "category": category, "category_id": cat_id, "parent_category": parent,
            "source_category": ex.get("source_category", category),
            "truncated": bool(ex.get("truncated", False)), "difficult": bool(ex.get("difficult", False)),
            "visible_fraction": float(ex.get("visible_fraction", 1.0)),
        })
    image_id = str(extra["source_image_id"]) if extra else str(Path(rel).with_suffix(""))
    window = list(extra["window"]) if extra else [0, 0, width, height]
    key = tile_key(name, image_id, tuple(window))
    if extra and extra.get("key") != key:
        raise _Bad("malformed", f"mgrs.key {extra.get('key')!r} does not match its source/id/window ({key!r})")
    row = {
        "key": key, "source": name, "source_image_id": image_id,
        "split": str(extra.get("split", split)) if extra else split,
        "image": {"bytes": data, "path": str(extra.get("image_path", Path(rel).name)) if extra else Path(rel).name},
        "width": width, "height": height, "window": window,
        "gsd": extra.get("gsd") if extra else None, "objects": objects,
        "caption_short": str(short), "caption_long": str(long),
        "caption_backend": str(extra.get("caption_backend", "imported")) if extra else "imported",
        "caption_model": extra.get("caption_model") if extra else None,
    }
    return row, region_caps
