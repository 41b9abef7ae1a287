"""ISPRS Vaihingen reader: colour-coded label TIFFs -> one object per connected region."""

from __future__ import annotations

import re
from pathlib import Path

from mgrs_builder.sources._isprs import IsprsReader, pick_labels
from mgrs_builder.sources.base import Entry, find_images, register

_LABEL = re.compile(r"^(top_mosaic_09cm_area\d+)(?:_noBoundary)?\.tif$")
# The 17 areas of the ISPRS benchmark's test set (as in mmseg and torchgeo); the other 16 are train.
VAIHINGEN_TEST = frozenset(
    f"top_mosaic_09cm_area{n}" for n in (2, 4, 6, 8, 10, 12, 14, 16, 20, 22, 24, 27, 29, 31, 33, 35, 38)
)


@register
class VaihingenReader(IsprsReader):
    """``ROOT/top/top_mosaic_09cm_areaN.tif`` (IRRG) + label TIFFs of the same name anywhere else under
    ROOT (``gts_for_participants/``, ``..._ground_truth_COMPLETE/``, torchgeo: ROOT itself)."""

    name = "vaihingen"
    format = "ISPRS Vaihingen colour-coded label TIFF (6 classes)"
    test_tiles = VAIHINGEN_TEST

    def _entries(self, root: Path) -> list[Entry]:
        top = root / "top"
        candidates = [p for p in sorted(root.rglob("top_mosaic_09cm_area*.tif")) if p.parent != top]
        labels = pick_labels(candidates, _LABEL)
        return [
            Entry(stem, self.split or ("test" if stem in VAIHINGEN_TEST else "train"), path, labels.get(stem))
            for stem, path in sorted(find_images(top, (".tif", ".tiff")).items())
        ]
