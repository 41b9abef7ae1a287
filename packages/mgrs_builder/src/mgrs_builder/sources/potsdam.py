"""ISPRS Potsdam reader: colour-coded label TIFFs -> one object per connected region."""

from __future__ import annotations

import re
from pathlib import Path

from mgrs_builder.sources._isprs import IsprsReader, pick_labels
from mgrs_builder.sources.base import Entry, find_images, register

IMAGE_DIRS = ("2_Ortho_RGB", "4_Ortho_RGBIR", "3_Ortho_IRRG", ".")
_IMAGE = re.compile(r"^top_potsdam_(\d+_\d+)_(RGB|RGBIR|IRRG)$")
_LABEL = re.compile(r"^top_potsdam_(\d+_\d+)_label(?:_noBoundary)?\.tif$")
# The 14 tiles of the ISPRS benchmark's test set (as in mmseg and torchgeo); the other 24 are train.
POTSDAM_TEST = frozenset(
    {"2_13", "2_14", "3_13", "3_14", "4_13", "4_14", "4_15"}
    | {"5_13", "5_14", "5_15", "6_13", "6_14", "6_15", "7_13"}
)


@register
class PotsdamReader(IsprsReader):
    """``ROOT/{2_Ortho_RGB,4_Ortho_RGBIR,3_Ortho_IRRG}/top_potsdam_X_Y_*.tif`` + label TIFFs
    ``top_potsdam_X_Y_label.tif`` anywhere under ROOT (e.g. ``5_Labels_all/``, torchgeo: ROOT)."""

    name = "potsdam"
    format = "ISPRS Potsdam colour-coded label TIFF (6 classes)"
    test_tiles = POTSDAM_TEST

    def _entries(self, root: Path) -> list[Entry]:
        labels = pick_labels(sorted(root.rglob("top_potsdam_*_label*.tif")), _LABEL)
        images: dict[str, Path] = {}
        for folder in IMAGE_DIRS:
            for stem, path in find_images(root / folder, (".tif", ".tiff", ".png", ".jpg")).items():
                match = _IMAGE.match(stem)
                if match:
                    images.setdefault(match.group(1), path)
        return [
            Entry(f"top_potsdam_{tile}", self.split or ("test" if tile in POTSDAM_TEST else "train"), path,
                  labels.get(tile))  # fmt: skip
            for tile, path in sorted(images.items())
        ]
