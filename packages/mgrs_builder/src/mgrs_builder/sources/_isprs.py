"""Shared parts of the ISPRS 2D semantic labelling readers (Potsdam, Vaihingen): the colour legend."""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

import numpy as np

from mgrs_builder.sources._masks import colours_to_index, read_mask, rgb_codes
from mgrs_builder.sources._semantic import SemanticMaskReader
from mgrs_builder.sources.base import RecordSink

ISPRS_CLASSES = ("impervious surfaces", "building", "low vegetation", "tree", "car", "clutter")
ISPRS_PALETTE: dict[tuple[int, int, int], int] = {
    (255, 255, 255): 0,
    (0, 0, 255): 1,
    (0, 255, 255): 2,
    (0, 255, 0): 3,
    (255, 255, 0): 4,
    (255, 0, 0): 5,
}
NO_CLASS = (0, 0, 0)  # eroded boundaries in the "noBoundary" ground truth: not an object
_ERODED = re.compile(r"noboundary|eroded", re.IGNORECASE)


class IsprsReader(SemanticMaskReader):
    """Colour-coded label TIFFs (RGB legend above). Channels are read as on/off at 128, so compression
    noise snaps to the legend (the count is kept in ``meta['snapped_px']``); black is skipped; any other
    colour is a bad record. The full ground truth is preferred over the eroded one when both exist."""

    labels = ISPRS_CLASSES
    class_names = ISPRS_CLASSES
    test_tiles: ClassVar[frozenset[str]]

    def _class_index(self, mask_path: Path, sink: RecordSink, meta: dict[str, str]) -> np.ndarray | None:
        try:
            rgb = read_mask(mask_path, rgb=True)
        except (OSError, ValueError) as exc:
            sink.bad(None, f"unreadable label: {exc}", "an RGB colour-coded label TIFF", reason="bad_mask")
            return None
        snapped = np.where(rgb >= 128, 255, 0).astype(np.uint8)
        changed = int((snapped != rgb).any(axis=-1).sum())
        if changed:
            meta["snapped_px"] = str(changed)
        index, unknown = colours_to_index(rgb_codes(snapped), {**ISPRS_PALETTE, NO_CLASS: -1})
        for colour, count in sorted(unknown.items()):
            problem = f"colour {colour} ({count} px) is not in the ISPRS legend"
            sink.bad(None, problem, "white, blue, cyan, green, yellow, red or black", reason="unknown_colour")
        return index


def pick_labels(paths: list[Path], key: re.Pattern[str]) -> dict[str, Path]:
    """Tile key -> label file, preferring full over eroded ground truth, then the sorted first."""
    chosen: dict[str, Path] = {}
    for path in sorted(paths, key=lambda p: (bool(_ERODED.search(str(p))), str(p))):
        match = key.search(path.name)
        if match:
            chosen.setdefault(match.group(1), path)
    return chosen
