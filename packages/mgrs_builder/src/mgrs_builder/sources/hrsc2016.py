"""HRSC2016 reader: per-image XML with a horizontal box and a rotated box (cx, cy, w, h, angle rad)."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

from mgrs_builder.errors import MgrsBuilderError
from mgrs_builder.records import OnBadRecord, SourceImage, SourceObject
from mgrs_builder.sources._xml import child_float, child_text, parse_xml, xml_size
from mgrs_builder.sources.base import (
    Entry,
    RecordSink,
    SourceReader,
    find_images,
    missing_image,
    register,
    split_name,
)

Point = tuple[float, float]


def rotated_box_corners(
    cx: float, cy: float, w: float, h: float, angle: float
) -> tuple[Point, Point, Point, Point]:
    """Corners of a box of size w x h centred at (cx, cy), its w side turned by ``angle`` radians
    (image axes, y down), in the order used by mmrotate's ``obb2poly``."""
    ca, sa = math.cos(angle), math.sin(angle)
    v1 = (w / 2 * ca, w / 2 * sa)
    v2 = (-h / 2 * sa, h / 2 * ca)
    return (
        (cx + v1[0] + v2[0], cy + v1[1] + v2[1]),
        (cx + v1[0] - v2[0], cy + v1[1] - v2[1]),
        (cx - v1[0] - v2[0], cy - v1[1] - v2[1]),
        (cx - v1[0] + v2[0], cy - v1[1] + v2[1]),
    )


@register
class Hrsc2016Reader(SourceReader):
    """``ROOT/FullDataSet/{AllImages/*.bmp, Annotations/*.xml}`` (ROOT may also be ``FullDataSet``);
    splits from ``ImageSets/{train,val,test}.txt`` beside or above it.

    Option ``boxes``: "oriented" (default, the ``mbox``) or "horizontal" (``box_xmin``..). Every
    object is labelled "ship" (the L1 level); its ``Class_ID`` is kept in ``attributes``.
    """

    name = "hrsc2016"
    format = "HRSC2016 XML (HBB + rotated box cx, cy, w, h, angle in radians)"
    task = "detection"
    labels = ("ship",)

    def __init__(self, *, boxes: str = "oriented", **options: object):
        super().__init__(**options)  # type: ignore[arg-type]
        if boxes not in ("oriented", "horizontal"):
            raise MgrsBuilderError(f"hrsc2016 option boxes must be 'oriented' or 'horizontal', got {boxes!r}")
        self.boxes = boxes

    def _entries(self, root: Path) -> list[Entry]:
        full = root / "FullDataSet" if (root / "FullDataSet").is_dir() else root
        images = find_images(full / "AllImages")
        xmls = {p.stem: p for p in sorted((full / "Annotations").glob("*.xml"))}
        split_of: dict[str, str] = {}
        for sets in (full / "ImageSets", full.parent / "ImageSets", root / "ImageSets"):
            for split in ("train", "val", "test"):
                path = sets / f"{split}.txt"
                if path.is_file():
                    for image_id in path.read_text(encoding="utf-8").split():
                        split_of.setdefault(image_id, split)
        default = self.split or split_name(root.name)
        return [
            Entry(stem, self.split or split_of.get(stem, default),
                  images.get(stem, full / "AllImages" / f"{stem}.bmp"), xmls.get(stem))  # fmt: skip
            for stem in sorted(set(images) | set(xmls))
        ]

    def _parse(self, entry: Entry, on_bad_record: OnBadRecord) -> SourceImage:
        sink = None
        size = None
        if entry.annotation_path is not None:
            sink = RecordSink(entry.annotation_path, on_bad_record)
            root = parse_xml(entry.annotation_path, sink)
            if root is not None:
                size = xml_size(root, "Img_SizeWidth", "Img_SizeHeight")
                for index, obj in enumerate(root.iter("HRSC_Object"), start=1):
                    self._add_object(obj, index, sink)
        if not entry.image_path.exists():
            missing_image(entry, sink, on_bad_record)
        width, height = self.image_size(entry.image_path, size)
        return self.make_image(entry, sink, width=width, height=height)

    def _add_object(self, obj: ET.Element, index: int, sink: RecordSink) -> None:
        try:
            if self.boxes == "oriented":
                values = (child_float(obj, f"mbox_{k}") for k in ("cx", "cy", "w", "h", "ang"))
                polygon = rotated_box_corners(*values)
            else:
                x1, y1, x2, y2 = (child_float(obj, f"box_{k}") for k in ("xmin", "ymin", "xmax", "ymax"))
                polygon = ((x1, y1), (x2, y1), (x2, y2), (x1, y2))
        except ValueError as exc:
            sink.bad(index, f"HRSC_Object {index}: {exc}", "numeric box_* and mbox_* fields")
            return
        keys = ("Class_ID", "Object_ID", "truncated")
        attrs = {k: v for k in keys if (v := child_text(obj, k)) is not None}
        sink.add(SourceObject(polygon=polygon, label="ship", difficult=child_text(obj, "difficult") == "1",
                              line=index, attributes=attrs))  # fmt: skip
