"""DIOR / DIOR-R reader: VOC-style XML with horizontal ``bndbox`` or oriented ``robndbox`` corners."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from mgrs_builder.errors import MgrsBuilderError
from mgrs_builder.records import OnBadRecord, SourceImage, SourceObject
from mgrs_builder.sources._xml import child_float, child_text, parse_xml, xml_size
from mgrs_builder.sources.base import Entry, RecordSink, SourceReader, find_images, register, split_name

DIOR_LABELS = (
    "airplane", "airport", "baseballfield", "basketballcourt", "bridge", "chimney", "dam",
    "Expressway-Service-area", "Expressway-toll-station",
    "expressway-service-area", "expressway-toll-station",
    "expresswayservicearea", "expresswaytollstation", "golffield", "groundtrackfield", "harbor", "overpass",
    "ship", "stadium", "storagetank", "tenniscourt", "trainstation", "vehicle", "windmill",
)  # fmt: skip
ORIENTED_DIR = "Oriented Bounding Boxes"
HORIZONTAL_DIR = "Horizontal Bounding Boxes"
ROBNDBOX = ("left_top", "right_top", "right_bottom", "left_bottom")
IMAGE_DIRS = ("JPEGImages-trainval", "JPEGImages-test", "JPEGImages", "JPEGImage")


@register
class DiorReader(SourceReader):
    """``ROOT/JPEGImages-{trainval,test}`` (or ``JPEGImages``, ``JPEGImage``, torchgeo's ``Images/{split}``)
    + ``Annotations/Oriented Bounding Boxes``, ``Annotations/Horizontal Bounding Boxes``,
    ``Annotations/{split}`` or ``Annotations``; splits from ``ImageSets/Main/{train,val,test}.txt``.

    Option ``boxes``: "oriented" (DIOR-R ``robndbox``), "horizontal" (``bndbox``) or None (default:
    oriented when that folder exists).
    """

    name = "dior"
    format = "DIOR Pascal-VOC XML (bndbox) / DIOR-R (robndbox corners)"
    task = "detection"
    labels = DIOR_LABELS

    def __init__(self, *, boxes: str | None = None, **options: object):
        super().__init__(**options)  # type: ignore[arg-type]
        if boxes not in (None, "oriented", "horizontal"):
            raise MgrsBuilderError(f"dior option boxes must be 'oriented' or 'horizontal', got {boxes!r}")
        self.boxes = boxes

    def _shared_annotation_dir(self, root: Path) -> Path | None:
        ann = root / "Annotations"
        oriented, horizontal = ann / ORIENTED_DIR, ann / HORIZONTAL_DIR
        if self.boxes == "horizontal" or (self.boxes is None and not oriented.is_dir()):
            preferred = horizontal
        else:
            preferred = oriented
        if preferred.is_dir():
            return preferred
        return ann if ann.is_dir() and any(ann.glob("*.xml")) else None

    def _entries(self, root: Path) -> list[Entry]:
        groups = [(root / d, d.removeprefix("JPEGImages").lstrip("-")) for d in IMAGE_DIRS]
        if (root / "Images").is_dir():  # torchgeo: Images/{split} with Annotations/{split}
            groups += [(d, d.name) for d in sorted((root / "Images").iterdir()) if d.is_dir()]
        shared = self._shared_annotation_dir(root)
        split_of = _image_sets(root)
        entries = []
        for folder, group in groups:
            images = find_images(folder)
            if not images:
                continue
            own = root / "Annotations" / group if group else None
            ann_dir = own if own is not None and own.is_dir() else shared
            for stem, path in sorted(images.items()):
                xml = ann_dir / f"{stem}.xml" if ann_dir is not None else None
                split = self.split or split_of.get(stem) or split_name(group or "trainval", "trainval")
                entries.append(Entry(stem, split, path, xml if xml is not None and xml.is_file() else None,
                                     group or folder.name))  # fmt: skip
        return entries

    def _parse(self, entry: Entry, on_bad_record: OnBadRecord) -> SourceImage:
        if entry.annotation_path is None:
            width, height = self.image_size(entry.image_path)
            return self.make_image(entry, None, width=width, height=height)
        sink = RecordSink(entry.annotation_path, on_bad_record)
        root = parse_xml(entry.annotation_path, sink)
        size = None
        if root is not None:
            size = xml_size(root)
            for index, obj in enumerate(root.iter("object"), start=1):
                _add_object(obj, index, sink)
        width, height = self.image_size(entry.image_path, size)
        return self.make_image(entry, sink, width=width, height=height)


def _add_object(obj: ET.Element, index: int, sink: RecordSink) -> None:
    label = child_text(obj, "name")
    if label is None:
        sink.bad(index, "object without <name>", "<object><name>class</name>...")
        return
    try:
        if obj.find("robndbox") is not None:
            polygon = tuple(
                (child_float(obj, f"robndbox/x_{c}"), child_float(obj, f"robndbox/y_{c}")) for c in ROBNDBOX
            )
        elif obj.find("bndbox") is not None:
            x1, y1 = child_float(obj, "bndbox/xmin"), child_float(obj, "bndbox/ymin")
            x2, y2 = child_float(obj, "bndbox/xmax"), child_float(obj, "bndbox/ymax")
            polygon = ((x1, y1), (x2, y1), (x2, y2), (x1, y2))
        else:
            raise ValueError("neither <bndbox> nor <robndbox>")
    except ValueError as exc:
        sink.bad(index, f"object {index} ({label}): {exc}", "bndbox xmin..ymax or robndbox corner numbers")
        return
    attrs = {k: v for k in ("angle", "truncated", "pose") if (v := child_text(obj, k)) is not None}
    sink.add(SourceObject(polygon=polygon, label=label, difficult=child_text(obj, "difficult") == "1",
                          line=index, attributes=attrs))  # fmt: skip


def _image_sets(root: Path) -> dict[str, str]:
    """Image id -> split from ``ImageSets/Main/{train,val,test}.txt`` when present."""
    out: dict[str, str] = {}
    main = root / "ImageSets" / "Main"
    for split in ("train", "val", "test"):
        path = main / f"{split}.txt"
        if path.is_file():
            for line in path.read_text(encoding="utf-8").split():
                out.setdefault(line.strip(), split)
    return out
