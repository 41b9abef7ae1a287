"""DOTA v1.0 / v1.5 / v2.0 labelTxt reader (oriented quadrilaterals)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from mgrs_builder.errors import MgrsBuilderError

from mgrs_builder.records import OnBadRecord, SourceImage, SourceObject
from mgrs_builder.sources.base import (
    Entry,
    RecordSink,
    SourceReader,
    find_images,
    missing_image,
    register,
    split_name,
)

logger = logging.getLogger(__name__)

DOTA_V1_LABELS = (
    "plane", "baseball-diamond", "bridge", "ground-track-field", "small-vehicle", "large-vehicle", "ship",
    "tennis-court", "basketball-court", "storage-tank", "soccer-ball-field", "roundabout", "harbor",
    "swimming-pool", "helicopter",
)  # fmt: skip
DOTA_LABELS = DOTA_V1_LABELS + ("container-crane", "airport", "helipad")
VERSIONS = ("1.0", "1.5", "2.0")
_HEADER = re.compile(r"^([A-Za-z][\w ]*):(.*)$")
EXPECTED_LINE = "'x1 y1 x2 y2 x3 y3 x4 y4 category [difficult]' (8 numbers, a name, an optional integer)"


def parse_dota_label_file(
    path: Path, on_bad_record: OnBadRecord = "error"
) -> tuple[RecordSink, dict[str, str]]:
    """Parse one labelTxt file into objects (and rejections) plus its ``imagesource``/``gsd`` header.

    Header lines are ``key:value`` lines (``imagesource:GF``, ``gsd:1``); they may be absent (split
    tiles, mmrotate test data). Difficulty ``0`` is easy, ``1`` difficult, ``2`` (ImgSplit: truncated,
    mostly outside the tile) is difficult too and kept in ``attributes['difficulty']``.
    """
    sink = RecordSink(path, on_bad_record)
    header: dict[str, str] = {}
    text = path.read_text(encoding="utf-8", errors="replace")
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        header_match = _HEADER.match(line)
        if header_match and not sink.objects:
            header[header_match.group(1).strip().lower()] = header_match.group(2).strip()
            continue
        tokens = line.split()
        if len(tokens) not in (9, 10):
            sink.bad(lineno, f"{len(tokens)} fields in {line[:80]!r}", EXPECTED_LINE)
            continue
        try:
            coords = [float(t) for t in tokens[:8]]
        except ValueError:
            sink.bad(lineno, f"non-numeric corner coordinate in {line[:80]!r}", EXPECTED_LINE)
            continue
        difficulty = tokens[9] if len(tokens) == 10 else "0"
        if difficulty not in ("0", "1", "2"):
            sink.bad(lineno, f"difficult flag {difficulty!r}", "0, 1 or 2")
            continue
        polygon = tuple((coords[i], coords[i + 1]) for i in range(0, 8, 2))
        sink.add(
            SourceObject(
                polygon=polygon,
                label=tokens[8],
                difficult=difficulty != "0",
                line=lineno,
                attributes={"difficulty": difficulty},
            )
        )
    return sink, header


def parse_gsd(value: str | None) -> float | None:
    """Ground sample distance from a ``gsd:`` header (``null`` or junk -> None)."""
    if value is None:
        return None
    try:
        gsd = float(value)
    except ValueError:
        return None
    return gsd if gsd > 0 else None


@register
class DotaReader(SourceReader):
    """``ROOT/images`` + ``ROOT/labelTxt`` (flat), or ``ROOT/{train,val,test}/images`` with ``labelTxt``,
    ``labelTxt-v{V}/labelTxt``, ``labelTxt-v{V}/DOTA-v{V}_{split}`` or torchgeo's ``annotations/version{V}``.

    Option ``version`` ("1.0", "1.5", "2.0") picks among versioned label folders; by default the
    highest present is used.
    """

    name = "dota"
    format = "DOTA labelTxt (oriented quadrilaterals, optional imagesource/gsd header)"
    task = "detection"
    labels = DOTA_LABELS

    def __init__(self, *, version: str | None = None, **options: object):
        super().__init__(**options)  # type: ignore[arg-type]
        if version is not None and str(version).removeprefix("v") not in VERSIONS:
            raise MgrsBuilderError(f"DOTA version {version!r} is not one of {VERSIONS}")
        self.version = str(version).removeprefix("v") if version is not None else None

    def _label_dir(self, split_dir: Path, split: str) -> Path | None:
        plain = split_dir / "labelTxt"
        versions = [self.version] if self.version else list(reversed(VERSIONS))
        for v in versions:
            for cand in (
                split_dir / "annotations" / f"version{v}",
                split_dir / f"labelTxt-v{v}" / "labelTxt",
                split_dir / f"labelTxt-v{v}" / f"DOTA-v{v}_{split}",
                split_dir / f"labelTxt-v{v}",
            ):
                if cand.is_dir() and any(cand.glob("*.txt")):
                    return cand
        return plain if plain.is_dir() else None

    def _entries(self, root: Path) -> list[Entry]:
        if (root / "images").is_dir():
            split_dirs = [(root, self.split or split_name(root.name))]
        else:
            split_dirs = [
                (d, self.split or split_name(d.name))
                for d in sorted(root.iterdir())
                if d.is_dir() and (d / "images").is_dir()
            ]
        entries: list[Entry] = []
        for split_dir, split in split_dirs:
            images = find_images(split_dir / "images")
            label_dir = self._label_dir(split_dir, split)
            labels = {p.stem: p for p in sorted(label_dir.glob("*.txt"))} if label_dir else {}
            for stem in sorted(set(images) | set(labels)):
                image = images.get(stem, split_dir / "images" / f"{stem}.png")
                entries.append(Entry(stem, split, image, labels.get(stem), qualifier=split_dir.name))
        return entries

    def _parse(self, entry: Entry, on_bad_record: OnBadRecord) -> SourceImage:
        sink, header = (None, {})
        if entry.annotation_path is not None:
            sink, header = parse_dota_label_file(entry.annotation_path, on_bad_record)
        meta = {k: v for k, v in header.items() if k != "gsd"}
        if not entry.image_path.exists():
            missing_image(entry, sink, on_bad_record)
        width, height = self.image_size(entry.image_path)
        gsd = parse_gsd(header.get("gsd"))
        return self.make_image(entry, sink, width=width, height=height, gsd=gsd, meta=meta)

