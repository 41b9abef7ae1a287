"""FAIR1M reader: per-image XML with 4-corner (closed) point lists and fine-grained class names."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from mgrs_builder.records import OnBadRecord, SourceImage, SourceObject
from mgrs_builder.sources._xml import child_text, parse_xml, xml_size
from mgrs_builder.sources.base import Entry, RecordSink, SourceReader, find_images, register, split_name

FAIR1M_LABELS = (
    "Boeing737", "Boeing747", "Boeing777", "Boeing787", "C919", "A220", "A321", "A330", "A350", "ARJ21",
    "other-airplane",
    "Passenger Ship", "Motorboat", "Fishing Boat", "Tugboat", "Engineering Ship", "Liquid Cargo Ship",
    "Dry Cargo Ship", "Warship", "other-ship",
    "Small Car", "Bus", "Cargo Truck", "Dump Truck", "Van", "Trailer", "Tractor", "Excavator",
    "Truck Tractor",
    "other-vehicle",
    "Basketball Court", "Tennis Court", "Football Field", "Baseball Field",
    "Intersection", "Roundabout", "Bridge",
)  # fmt: skip
EXPECTED_POINT = "'x,y' pixel coordinates, at least 3 distinct points"


@register
class Fair1mReader(SourceReader):
    """``ROOT/{train/part1,train/part2,validation,test}/images/N.tif`` + ``labelXml/N.xml`` (any folder
    under ROOT, up to three levels deep, that holds ``images/``); the split is its top folder."""

    name = "fair1m"
    format = "FAIR1M XML (objects/object/points, closed 5-point rings, fine-grained names)"
    task = "detection"
    labels = FAIR1M_LABELS

    def _entries(self, root: Path) -> list[Entry]:
        dirs = [root] if (root / "images").is_dir() else []
        for depth in ("*", "*/*", "*/*/*"):
            dirs += [d for d in sorted(root.glob(depth)) if d.is_dir() and (d / "images").is_dir()]
        entries = []
        for folder in dirs:
            rel = folder.relative_to(root).parts
            split = self.split or split_name(rel[0] if rel else root.name)
            for stem, path in find_images(folder / "images").items():
                xml = folder / "labelXml" / f"{stem}.xml"
                ann = xml if xml.is_file() else None
                entries.append(Entry(stem, split, path, ann, "-".join(rel) or split))
        return entries

    def _parse(self, entry: Entry, on_bad_record: OnBadRecord) -> SourceImage:
        if entry.annotation_path is None:
            width, height = self.image_size(entry.image_path)
            return self.make_image(entry, None, width=width, height=height)
        sink = RecordSink(entry.annotation_path, on_bad_record)
        root = parse_xml(entry.annotation_path, sink)
        size, meta = None, {}
        if root is not None:
            size = xml_size(root)
            if (origin := child_text(root, "source/origin")) is not None:
                meta["origin"] = origin
            for index, obj in enumerate(root.iter("object"), start=1):
                _add_object(obj, index, sink)
        width, height = self.image_size(entry.image_path, size)
        return self.make_image(entry, sink, width=width, height=height, meta=meta)


def _add_object(obj: ET.Element, index: int, sink: RecordSink) -> None:
    label = child_text(obj, "possibleresult/name")
    if label is None:
        sink.bad(index, "object without <possibleresult><name>", "a class name")
        return
    points: list[tuple[float, float]] = []
    for point in obj.iter("point"):
        text = (point.text or "").strip()
        try:
            x, y = (float(v) for v in text.split(","))
        except ValueError:
            sink.bad(index, f"object {index} ({label}): point {text!r}", EXPECTED_POINT)
            return
        points.append((x, y))
    if len(points) > 1 and points[0] == points[-1]:
        points.pop()  # FAIR1M closes the ring by repeating the first point
    if len(points) < 3:
        sink.bad(index, f"object {index} ({label}) has {len(points)} distinct points", EXPECTED_POINT)
        return
    sink.add(SourceObject(polygon=tuple(points), label=label, line=index))
