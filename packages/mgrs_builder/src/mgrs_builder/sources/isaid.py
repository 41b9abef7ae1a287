"""iSAID reader: COCO instance JSON when present, otherwise the instance colour/id masks."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from mgrs_builder.errors import MgrsBuilderError
from mgrs_builder.records import OnBadRecord, SourceImage, SourceObject
from mgrs_builder.sources._coco import CocoFile, add_coco_objects, load_coco
from mgrs_builder.sources._masks import (
    code_to_rgb,
    colours_to_index,
    merge_parts,
    read_mask,
    regions,
    rgb_codes,
)
from mgrs_builder.sources.base import Entry, RecordSink, SourceReader, find_images, register, split_name

logger = logging.getLogger(__name__)

# Class index -> (name as iSAID writes it, RGB colour stored in the *_instance_color_RGB.png masks).
ISAID_PALETTE: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("background", (0, 0, 0)),
    ("ship", (0, 0, 63)),
    ("storage_tank", (0, 63, 63)),
    ("baseball_diamond", (0, 63, 0)),
    ("tennis_court", (0, 63, 127)),
    ("basketball_court", (0, 63, 191)),
    ("Ground_Track_Field", (0, 63, 255)),
    ("Bridge", (0, 127, 63)),
    ("Large_Vehicle", (0, 127, 127)),
    ("Small_Vehicle", (0, 0, 127)),
    ("Helicopter", (0, 0, 191)),
    ("Swimming_pool", (0, 0, 255)),
    ("Roundabout", (0, 191, 127)),
    ("Soccer_ball_field", (0, 127, 191)),
    ("plane", (0, 127, 255)),
    ("Harbor", (0, 100, 155)),
)
COLOUR_SUFFIX = "_instance_color_RGB"
ID_SUFFIX = "_instance_id_RGB"
MASK_DIRS = ("images", "Semantic_masks/images", "Instance_masks/images", "Semantic_masks", "Instance_masks")
_PALETTE_INDEX = {rgb: i for i, (_, rgb) in enumerate(ISAID_PALETTE)}


@register
class IsaidReader(SourceReader):
    """``ROOT/{train,val}/images/PNNNN.png`` with ``PNNNN_instance_{color,id}_RGB.png`` masks (also under
    ``Semantic_masks/images`` and ``Instance_masks/images``), or a COCO ``*.json`` in the split folder
    or its ``Annotations/``.

    Option ``prefer`` is "json" (default: the COCO file when one is present) or "masks".
    Mask mode: every distinct id colour (per class) is one instance; several disconnected parts of
    one instance become the convex hull of the parts (attributes ``parts``, ``geometry``).
    """

    name = "isaid"
    format = "iSAID instance masks (class colour + instance id RGB PNGs) or COCO instance JSON"
    task = "instance"
    labels = tuple(name for name, _ in ISAID_PALETTE[1:])

    def __init__(self, *, prefer: str = "json", **options: object):
        super().__init__(**options)  # type: ignore[arg-type]
        if prefer not in ("json", "masks"):
            raise MgrsBuilderError(f"isaid option prefer must be 'json' or 'masks', got {prefer!r}")
        self.prefer = prefer
        self._coco: dict[Path, CocoFile] = {}

    def _split_dirs(self, root: Path) -> list[tuple[Path, str]]:
        if (root / "images").is_dir():
            return [(root, self.split or split_name(root.name))]
        dirs = [d for d in sorted(root.iterdir()) if (d / "images").is_dir()]
        return [(d, self.split or split_name(d.name)) for d in dirs]

    @staticmethod
    def _coco_file(split_dir: Path) -> Path | None:
        found = sorted(split_dir.glob("*.json")) + sorted((split_dir / "Annotations").glob("*.json"))
        return found[0] if found else None

    def _entries(self, root: Path) -> list[Entry]:
        entries: list[Entry] = []
        for split_dir, split in self._split_dirs(root):
            images = {
                stem: p
                for stem, p in find_images(split_dir / "images").items()
                if not stem.endswith((COLOUR_SUFFIX, ID_SUFFIX))
            }
            coco = self._coco_file(split_dir) if self.prefer == "json" else None
            for stem, path in sorted(images.items()):
                if coco is not None:
                    extra = {"mode": "json", "stem": stem}
                    entries.append(Entry(stem, split, path, coco, split_dir.name, extra))
                    continue
                colour = _find_mask(split_dir, stem + COLOUR_SUFFIX)
                ids = _find_mask(split_dir, stem + ID_SUFFIX)
                ann = colour if colour and ids else None
                extra = {"mode": "masks", "id_mask": ids}
                entries.append(Entry(stem, split, path, ann, split_dir.name, extra))
        return entries

    def _parse(self, entry: Entry, on_bad_record: OnBadRecord) -> SourceImage:
        width, height = self.image_size(entry.image_path)
        if entry.annotation_path is None:
            return self.make_image(entry, None, width=width, height=height)
        sink = RecordSink(entry.annotation_path, on_bad_record)
        meta: dict[str, str] = {}
        if entry.extra["mode"] == "json":
            coco = self._coco.get(entry.annotation_path) or load_coco(entry.annotation_path)
            self._coco[entry.annotation_path] = coco
            image = coco.images.get(entry.extra["stem"])
            if image is not None:
                add_coco_objects(coco, image, sink, use_segmentation=True)
                if width is None:
                    width, height = image.get("width"), image.get("height")
        else:
            self._parse_masks(entry.annotation_path, entry.extra["id_mask"], sink)
            meta["id_mask"] = str(entry.extra["id_mask"])
        return self.make_image(entry, sink, width=width, height=height, meta=meta)

    def _parse_masks(self, colour_path: Path, id_path: Path, sink: RecordSink) -> None:
        classes, unknown = colours_to_index(rgb_codes(read_mask(colour_path, rgb=True)), _PALETTE_INDEX)
        for rgb, count in sorted(unknown.items()):
            problem = f"colour {rgb} ({count} px) is not in the iSAID palette"
            sink.bad(None, problem, "one of the 16 iSAID class colours", reason="unknown_colour")
        ids = rgb_codes(read_mask(id_path, rgb=True))
        if ids.shape != classes.shape:
            problem = f"instance-id mask {id_path.name} is {ids.shape[::-1]}, colour {classes.shape[::-1]}"
            sink.bad(None, problem, "masks of the same size", reason="mask_mismatch")
            return
        objects = (ids != 0) & (classes > 0)
        orphans = int(((ids != 0) & (classes == 0)).sum())
        if orphans:
            sink.bad(None, f"{orphans} px carry an instance id but the background class", "a class colour",
                     reason="mask_mismatch")  # fmt: skip
        # One label per (instance colour, class) pair, numbered in sorted order.
        pair = ids.astype(np.int64) * 32 + np.maximum(classes, 0)
        keys, inverse = np.unique(np.where(objects, pair, -1), return_inverse=True)
        inverse = inverse.reshape(pair.shape).astype(np.int32)
        first = 1 if keys[0] == -1 else 0
        grouped = regions(inverse, objects)
        for index, key in enumerate(keys[first:].tolist(), start=1):
            parts = grouped.get(index - 1 + first, [])
            if not parts:
                continue
            ring, attrs = merge_parts(parts)
            area = sum(p.area for p in parts)
            label = ISAID_PALETTE[int(key) % 32][0]
            iid = int(key) // 32
            attrs = {**attrs, "area_px": str(int(round(area))), "instance_rgb": "%d,%d,%d" % code_to_rgb(iid)}
            sink.add(SourceObject(polygon=ring, label=label, line=index, attributes=attrs))


def _find_mask(split_dir: Path, stem: str) -> Path | None:
    for sub in MASK_DIRS:
        path = split_dir / sub / f"{stem}.png"
        if path.is_file():
            return path
    return None
