"""COCO instance JSON (iSAID, torchgeo's NWPU VHR-10) -> per-image object lists."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shapely.geometry import Polygon

from mgrs_builder.errors import AnnotationParseError
from mgrs_builder.records import SourceObject
from mgrs_builder.sources._masks import merge_parts, regions
from mgrs_builder.sources.base import RecordSink

logger = logging.getLogger(__name__)


@dataclass
class CocoFile:
    """A loaded COCO file: images by file stem, raw annotations grouped by image id."""

    path: Path
    images: dict[str, dict[str, Any]]
    annotations: dict[Any, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    categories: dict[int, str] = field(default_factory=dict)


def load_coco(path: Path, categories: dict[int, str] | None = None) -> CocoFile:
    """Read ``path``; ``categories`` supplies names when the file has no ``categories`` list."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        problem = f"invalid JSON: {exc.msg}"
        raise AnnotationParseError(path, exc.lineno, problem, "a COCO instance file") from exc
    if not isinstance(data, dict) or "images" not in data or "annotations" not in data:
        raise AnnotationParseError(path, None, "no 'images'/'annotations' lists", "a COCO instance file")
    cats = dict(categories or {})
    for cat in data.get("categories") or []:
        cats[int(cat["id"])] = str(cat["name"])
    images: dict[str, dict[str, Any]] = {}
    for i, img in enumerate(data["images"], start=1):
        if "file_name" not in img or "id" not in img:
            problem = "image record without 'file_name' or 'id'"
            raise AnnotationParseError(path, i, problem, "a COCO image record")
        images[Path(str(img["file_name"])).stem] = img
    grouped: dict[Any, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for i, ann in enumerate(data["annotations"], start=1):
        grouped[ann.get("image_id")].append((i, ann))
    return CocoFile(path, images, dict(grouped), cats)


def _bbox_ring(bbox: Any) -> tuple[tuple[float, float], ...]:
    x, y, w, h = (float(v) for v in bbox)
    return ((x, y), (x + w, y), (x + w, y + h), (x, y + h))


def _segmentation_ring(seg: Any) -> tuple[tuple, dict[str, str]] | None:
    if isinstance(seg, list) and seg and all(isinstance(p, list) for p in seg):
        parts = []
        for flat in seg:
            if len(flat) < 6 or len(flat) % 2:
                raise ValueError(f"polygon with {len(flat)} numbers")
            parts.append(Polygon([(float(flat[k]), float(flat[k + 1])) for k in range(0, len(flat), 2)]))
        return merge_parts(parts)
    if isinstance(seg, dict) and "counts" in seg:
        from pycocotools import mask as mask_utils  # RLE only

        rle = seg if not isinstance(seg["counts"], list) else mask_utils.frPyObjects(seg, *seg["size"])
        binary = mask_utils.decode(rle)
        found = regions(binary, binary > 0).get(1, [])
        return merge_parts(found) if found else None
    return None


def add_coco_objects(
    coco: CocoFile, image: dict[str, Any], sink: RecordSink, use_segmentation: bool
) -> None:
    """Append the objects of ``image`` to ``sink`` (label by category name, line = record index)."""
    for index, ann in coco.annotations.get(image["id"], []):
        cat = coco.categories.get(ann.get("category_id"))  # type: ignore[arg-type]
        if cat is None:
            problem = f"category_id {ann.get('category_id')!r} is not defined"
            sink.bad(index, problem, "an id from 'categories'")
            continue
        try:
            found = None
            if use_segmentation and ann.get("segmentation"):
                found = _segmentation_ring(ann["segmentation"])
            ring, attrs = found if found else (_bbox_ring(ann["bbox"]), {"geometry": "bbox"})
        except (KeyError, TypeError, ValueError) as exc:
            problem = f"bad geometry in annotation {ann.get('id')!r}: {exc}"
            sink.bad(index, problem, "bbox [x, y, w, h] or polygons")
            continue
        attrs = dict(attrs)
        if ann.get("iscrowd"):
            attrs["iscrowd"] = "1"
        sink.add(SourceObject(polygon=ring, label=cat, line=index, attributes=attrs))
