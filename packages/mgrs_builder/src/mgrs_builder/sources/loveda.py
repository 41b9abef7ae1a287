"""LoveDA reader: index PNG masks (0 no-data, 1..7 classes) -> one object per connected region."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mgrs_builder.sources._masks import read_mask
from mgrs_builder.sources._semantic import SemanticMaskReader
from mgrs_builder.sources.base import Entry, RecordSink, find_images, register, split_name

LOVEDA_CLASSES = ("", "background", "building", "road", "water", "barren", "forest", "agriculture")
DOMAINS = ("Urban", "Rural")


@register
class LovedaReader(SemanticMaskReader):
    """``ROOT/{Train,Val,Test}/{Urban,Rural}/images_png/N.png`` + ``masks_png/N.png`` (Test has no masks).

    Value 0 is no-data and is skipped; value 1 ("background") is kept and maps to the canonical
    "background", which the builder may drop by rule. ``meta['domain']`` is "urban" or "rural".
    """

    name = "loveda"
    format = "LoveDA index PNG masks (0 no-data, 1 background .. 7 agriculture)"
    labels = LOVEDA_CLASSES[1:]
    class_names = LOVEDA_CLASSES

    def _entries(self, root: Path) -> list[Entry]:
        entries: list[Entry] = []
        split_dirs = [root] if any((root / d).is_dir() for d in DOMAINS) else sorted(root.iterdir())
        for split_dir in split_dirs:
            for domain in DOMAINS:
                base = split_dir / domain
                if not (base / "images_png").is_dir():
                    continue
                split = self.split or split_name(split_dir.name)
                for stem, image in find_images(base / "images_png", (".png",)).items():
                    mask = base / "masks_png" / f"{stem}.png"
                    ann = mask if mask.is_file() else None
                    qualifier = f"{split}-{domain.lower()}"
                    entries.append(Entry(stem, split, image, ann, qualifier, {"domain": domain.lower()}))
        return entries

    def _class_index(self, mask_path: Path, sink: RecordSink, meta: dict[str, str]) -> np.ndarray | None:
        try:
            mask = read_mask(mask_path, rgb=False).astype(np.int32)
        except (OSError, ValueError) as exc:
            sink.bad(None, f"unreadable mask: {exc}", "a single-band PNG with values 0..7", reason="bad_mask")
            return None
        bad = (mask < 0) | (mask >= len(LOVEDA_CLASSES))
        if bad.any():
            values = sorted(set(np.unique(mask[bad]).tolist()))
            problem = f"{int(bad.sum())} px have values {values[:10]} outside 0..7"
            sink.bad(None, problem, "LoveDA values 0..7", reason="unknown_value")
        return np.where(bad | (mask == 0), -1, mask)
