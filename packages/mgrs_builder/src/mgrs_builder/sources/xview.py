"""xView (v1) reader: one GeoJSON FeatureCollection with pixel boxes in ``bounds_imcoords``."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from mgrs_builder.errors import AnnotationParseError
from mgrs_builder.records import OnBadRecord, SourceImage, SourceObject
from mgrs_builder.sources.base import Entry, RecordSink, SourceReader, find_images, missing_image, register

logger = logging.getLogger(__name__)

# type_id -> class name, as in DIUx-xView/data_utilities xview_class_labels.txt (60 classes, ids 11..94).
XVIEW_CLASSES: dict[int, str] = {
    11: "Fixed-wing Aircraft", 12: "Small Aircraft", 13: "Cargo Plane", 15: "Helicopter",
    17: "Passenger Vehicle", 18: "Small Car", 19: "Bus", 20: "Pickup Truck", 21: "Utility Truck",
    23: "Truck", 24: "Cargo Truck", 25: "Truck w/Box", 26: "Truck Tractor", 27: "Trailer",
    28: "Truck w/Flatbed", 29: "Truck w/Liquid", 32: "Crane Truck", 33: "Railway Vehicle",
    34: "Passenger Car", 35: "Cargo Car", 36: "Flat Car", 37: "Tank car", 38: "Locomotive",
    40: "Maritime Vessel", 41: "Motorboat", 42: "Sailboat", 44: "Tugboat", 45: "Barge",
    47: "Fishing Vessel", 49: "Ferry", 50: "Yacht", 51: "Container Ship", 52: "Oil Tanker",
    53: "Engineering Vehicle", 54: "Tower crane", 55: "Container Crane", 56: "Reach Stacker",
    57: "Straddle Carrier", 59: "Mobile Crane", 60: "Dump Truck", 61: "Haul Truck", 62: "Scraper/Tractor",
    63: "Front loader/Bulldozer", 64: "Excavator", 65: "Cement Mixer", 66: "Ground Grader", 71: "Hut/Tent",
    72: "Shed", 73: "Building", 74: "Aircraft Hangar", 76: "Damaged Building", 77: "Facility",
    79: "Construction Site", 83: "Vehicle Lot", 84: "Helipad", 86: "Storage Tank",
    89: "Shipping container lot", 91: "Shipping Container", 93: "Pylon", 94: "Tower",
}  # fmt: skip
COLUMNS = ("bounds_imcoords", "type_id", "image_id")
IMAGE_DIRS = {"train_images": "train", "val_images": "val", "images": "train"}
EXPECTED_BOUNDS = "bounds_imcoords 'xmin,ymin,xmax,ymax' (4 numbers)"


def load_features(path: Path) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    """Feature properties grouped by ``image_id`` (with their 1-based feature index), via geopandas."""
    import geopandas

    try:
        frame = geopandas.read_file(path, ignore_geometry=True)
    except Exception as exc:  # pyogrio/fiona raise their own error types
        expected = "an xView FeatureCollection"
        raise AnnotationParseError(path, None, f"cannot read GeoJSON: {exc}", expected) from exc
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing and len(frame):
        problem = f"features lack properties {missing}"
        raise AnnotationParseError(path, None, problem, f"properties {list(COLUMNS)}")
    grouped: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for index, row in enumerate(frame.to_dict("records"), start=1):
        image_id = Path(str(row.get("image_id"))).stem
        grouped.setdefault(image_id, []).append((index, row))
    logger.debug("%s: %d features on %d images", path, len(frame), len(grouped))
    return grouped


@register
class XviewReader(SourceReader):
    """``ROOT/train_images/*.tif`` (or ``val_images``, ``images``) + ``ROOT/*.geojson`` (e.g.
    ``xView_train.geojson``); features name their image in ``image_id``. Boxes are axis-aligned
    ``bounds_imcoords``; the label is the class name of ``type_id`` (unknown ids are bad records)."""

    name = "xview"
    format = "xView GeoJSON (bounds_imcoords pixel boxes, type_id classes)"
    task = "detection"
    labels = tuple(XVIEW_CLASSES.values())

    def __init__(self, **options: object):
        super().__init__(**options)  # type: ignore[arg-type]
        self._features: dict[Path, dict[str, list[tuple[int, dict[str, Any]]]]] = {}

    def _entries(self, root: Path) -> list[Entry]:
        geojsons = sorted(root.glob("*.geojson"))
        if len(geojsons) > 1:
            names = [p.name for p in geojsons]
            logger.info("xview: several GeoJSON files under %s; using them all: %s", root, names)
        owner = {stem: g for g in reversed(geojsons) for stem in self._load(g)}
        entries, seen = [], set()
        for folder, split in IMAGE_DIRS.items():
            for stem, path in find_images(root / folder).items():
                seen.add(stem)
                entries.append(Entry(stem, self.split or split, path, owner.get(stem), split))
        for stem in sorted(set(owner) - seen):  # labelled images that are absent: reported by _parse
            path = root / "train_images" / f"{stem}.tif"
            entries.append(Entry(stem, self.split or "train", path, owner[stem], "train"))
        return entries

    def _load(self, path: Path) -> dict[str, list[tuple[int, dict[str, Any]]]]:
        if path not in self._features:
            self._features[path] = load_features(path)
        return self._features[path]

    def _parse(self, entry: Entry, on_bad_record: OnBadRecord) -> SourceImage:
        width, height = self.image_size(entry.image_path)
        if entry.annotation_path is None:
            return self.make_image(entry, None, width=width, height=height)
        sink = RecordSink(entry.annotation_path, on_bad_record)
        for index, props in self._load(entry.annotation_path).get(entry.image_path.stem, []):
            _add_feature(index, props, sink)
        if not entry.image_path.exists():
            missing_image(entry, sink, on_bad_record)
        return self.make_image(entry, sink, width=width, height=height)


def _add_feature(index: int, props: dict[str, Any], sink: RecordSink) -> None:
    try:
        type_id = int(props.get("type_id"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        sink.bad(index, f"feature {index}: type_id {props.get('type_id')!r}", "an integer xView class id")
        return
    label = XVIEW_CLASSES.get(type_id)
    if label is None:
        problem = f"feature {index}: type_id {type_id} is not an xView class"
        sink.bad(index, problem, "an id of xview_class_labels.txt", reason="unknown_type_id")
        return
    raw = props.get("bounds_imcoords")
    try:
        x1, y1, x2, y2 = (float(v) for v in str(raw).split(","))
        if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
            raise ValueError
    except ValueError:
        sink.bad(index, f"feature {index}: bounds_imcoords {raw!r}", EXPECTED_BOUNDS)
        return
    attrs = {"type_id": str(type_id)}
    if props.get("feature_id") is not None:
        attrs["feature_id"] = str(props["feature_id"])
    polygon = ((x1, y1), (x2, y1), (x2, y2), (x1, y2))
    sink.add(SourceObject(polygon=polygon, label=label, line=index, attributes=attrs))
