"""NWPU VHR-10 reader: ``ground truth/NNN.txt`` box lines, or torchgeo's COCO ``annotations.json``."""

from __future__ import annotations

import re
from pathlib import Path

from mgrs_builder.records import OnBadRecord, SourceImage, SourceObject
from mgrs_builder.sources._coco import CocoFile, add_coco_objects, load_coco
from mgrs_builder.sources.base import Entry, RecordSink, SourceReader, find_images, register

VHR10_CLASSES = {
    1: "airplane", 2: "ship", 3: "storage tank", 4: "baseball diamond", 5: "tennis court",
    6: "basketball court", 7: "ground track field", 8: "harbor", 9: "bridge", 10: "vehicle",
}  # fmt: skip
RELEASE_DIR = "NWPU VHR-10 dataset"
POSITIVE, NEGATIVE, TRUTH = "positive image set", "negative image set", "ground truth"
_LINE = re.compile(
    r"^\(\s*(?P<x1>[-+\d.eE]+)\s*,\s*(?P<y1>[-+\d.eE]+)\s*\)\s*,\s*"
    r"\(\s*(?P<x2>[-+\d.eE]+)\s*,\s*(?P<y2>[-+\d.eE]+)\s*\)\s*,\s*(?P<c>\d+)\s*$"
)
EXPECTED_LINE = "'(x1,y1),(x2,y2),c' with c in 1..10"


def parse_vhr10_txt(path: Path, sink: RecordSink) -> None:
    """Add the boxes of one ``ground truth`` file to ``sink``."""
    for lineno, raw in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        match = _LINE.match(line)
        if match is None:
            sink.bad(lineno, f"cannot read {line[:80]!r}", EXPECTED_LINE)
            continue
        try:
            x1, y1, x2, y2 = (float(match[k]) for k in ("x1", "y1", "x2", "y2"))
        except ValueError:
            sink.bad(lineno, f"non-numeric corner in {line[:80]!r}", EXPECTED_LINE)
            continue
        label = VHR10_CLASSES.get(int(match["c"]))
        if label is None:
            sink.bad(lineno, f"class {match['c']} in {line[:80]!r}", EXPECTED_LINE)
            continue
        sink.add(SourceObject(polygon=((x1, y1), (x2, y1), (x2, y2), (x1, y2)), label=label, line=lineno))


@register
class NwpuVhr10Reader(SourceReader):
    """``ROOT/{positive image set, negative image set, ground truth}`` (ROOT may hold ``NWPU VHR-10
    dataset/``), or torchgeo's ``annotations.json`` (COCO, boxes) beside or inside it. Negative images
    have no objects and the ids ``negative_NNN``. There is no official split: every image is ``train``
    unless ``split`` is given."""

    name = "nwpu_vhr10"
    format = "NWPU VHR-10 ground-truth text '(x1,y1),(x2,y2),c' or COCO JSON"
    task = "detection"
    labels = tuple(VHR10_CLASSES.values())

    def __init__(self, **options: object):
        super().__init__(**options)  # type: ignore[arg-type]
        self._coco: CocoFile | None = None

    def _entries(self, root: Path) -> list[Entry]:
        base = root / RELEASE_DIR if (root / RELEASE_DIR).is_dir() else root
        split = self.split or "train"
        coco = next((p for p in (base / "annotations.json", root / "annotations.json") if p.is_file()), None)
        truth = base / TRUTH
        entries = []
        for stem, path in find_images(base / POSITIVE).items():
            ann = truth / f"{stem}.txt" if truth.is_dir() else coco
            mode = "txt" if truth.is_dir() else "coco"
            ann = ann if ann is not None and ann.is_file() else None
            entries.append(Entry(stem, split, path, ann, "positive", {"mode": mode, "stem": stem}))
        for stem, path in find_images(base / NEGATIVE).items():
            # negative ids repeat the positive ones (001..150), so they always carry a prefix
            entries.append(Entry(f"negative_{stem}", split, path, None, "negative", {"set": "negative"}))
        return entries

    def _parse(self, entry: Entry, on_bad_record: OnBadRecord) -> SourceImage:
        width, height = self.image_size(entry.image_path)
        image_set = "negative" if entry.qualifier == "negative" else "positive"
        if entry.annotation_path is None:
            return self.make_image(entry, None, width=width, height=height, meta={"set": image_set})
        sink = RecordSink(entry.annotation_path, on_bad_record)
        if entry.extra["mode"] == "txt":
            parse_vhr10_txt(entry.annotation_path, sink)
        else:
            if self._coco is None or self._coco.path != entry.annotation_path:
                self._coco = load_coco(entry.annotation_path, VHR10_CLASSES)
            image = self._coco.images.get(entry.extra["stem"])
            if image is not None:
                add_coco_objects(self._coco, image, sink, use_segmentation=False)
        return self.make_image(entry, sink, width=width, height=height, meta={"set": image_set})
