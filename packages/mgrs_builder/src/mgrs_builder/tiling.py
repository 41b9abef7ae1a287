"""Cut large scenes into overlapping tiles, the way the DOTA devkit's ``ImgSplit`` does.

Defaults and why:

* ``tile_size=512``: FarSLIP trains at 224 px (ViT-B/16) and the released MGRS-200k tiles are a few
  hundred pixels; 512 keeps small objects (vehicles, ships: 10-60 px in DOTA) at native resolution
  while a 2x downscale to 224-336 px still shows them. The devkit's 1024 is a detector's choice and
  would shrink small objects below a ViT patch after resizing.
* ``overlap=128`` (stride 384): a quarter of the tile, the same ratio as the devkit's 1024/200 +
  mmrotate's gaps, so any object up to 128 px across appears whole in at least one tile.
* ``min_visible=0.5``: an object cut by a border is kept in a tile when at least half of its area
  is inside (IoF >= 0.5, the devkit's "half IoU"). The devkit keeps every object with IoF > 0 but
  marks those with IoF <= 0.7 difficult ``2``, which its ground-truth export then drops; we drop
  below 0.5 directly and flag every cut object ``truncated`` with its ``visible_fraction``, so
  users can re-filter more strictly. An object whose best tile is below the threshold counts as
  ``objects_dropped_by_tiling``.

Window walk (as the devkit): left = 0, stride, 2*stride, ...; once left + size >= width, the last
column snaps flush to the border at max(width - size, 0). Same for rows. Images smaller than a
tile give one window of the whole image; nothing is padded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shapely import STRtree
from shapely.geometry import Polygon, box

from .geometry import Clipped, Window, clip_to_window

DEFAULT_TILE_SIZE = 512
DEFAULT_OVERLAP = 128
DEFAULT_MIN_VISIBLE = 0.5


@dataclass(frozen=True)
class TilingConfig:
    """Tile size, overlap and the visible-area rule."""

    tile_size: int = DEFAULT_TILE_SIZE
    overlap: int = DEFAULT_OVERLAP
    min_visible: float = DEFAULT_MIN_VISIBLE

    def validate(self) -> None:
        """Raise ValueError naming the bad field."""
        if self.tile_size < 1:
            raise ValueError(f"tile_size must be >= 1, got {self.tile_size}")
        if not 0 <= self.overlap < self.tile_size:
            raise ValueError(f"overlap must be in [0, tile_size={self.tile_size}), got {self.overlap}")
        if not 0.0 < self.min_visible <= 1.0:
            raise ValueError(f"min_visible must be in (0, 1], got {self.min_visible}")


def _starts(length: int, size: int, stride: int) -> list[int]:
    starts: list[int] = []
    pos = 0
    while True:
        if pos + size >= length:
            starts.append(max(length - size, 0))
            break
        starts.append(pos)
        pos += stride
    return sorted(set(starts))


def tile_windows(width: int, height: int, tile_size: int = DEFAULT_TILE_SIZE,
                 overlap: int = DEFAULT_OVERLAP) -> list[Window]:
    """Windows ``(x0, y0, x1, y1)`` covering the image, row by row, each at most ``tile_size``.

    Raises:
        ValueError: on a non-positive image size or bad tile parameters.
    """
    TilingConfig(tile_size, overlap).validate()
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    stride = tile_size - overlap
    xs = _starts(width, tile_size, stride)
    ys = _starts(height, tile_size, stride)
    return [(x, y, min(x + tile_size, width), min(y + tile_size, height)) for y in ys for x in xs]


@dataclass(frozen=True)
class TiledObject:
    """One source object placed in one tile."""

    index: int  # position of the object in the scene's list of valid objects
    clipped: Clipped


def objects_in_window(shapes: Sequence[tuple[Polygon, float]], window: Window,
                      min_visible: float = DEFAULT_MIN_VISIBLE, tree: STRtree | None = None) -> list[TiledObject]:
    """The objects kept in ``window`` under the visible-area rule, in input order.

    Args:
        shapes: ``(polygon, area)`` per valid object, in source pixels.
        window: the tile in source pixels.
        min_visible: keep an object if area inside / area >= this.
        tree: an ``STRtree`` over the same polygons, for scenes with many objects and windows.
    """
    kept: list[TiledObject] = []
    x0, y0, x1, y1 = window
    candidates = range(len(shapes)) if tree is None else sorted(int(i) for i in tree.query(box(x0, y0, x1, y1)))
    for i in candidates:
        shape, area = shapes[i]
        bx1, by1, bx2, by2 = shape.bounds
        if bx2 <= x0 or bx1 >= x1 or by2 <= y0 or by1 >= y1:
            continue
        clipped = clip_to_window(shape, area, window)
        # small tolerance: float intersection areas of a half-cut box can land at 0.4999999
        if clipped is not None and clipped.visible_fraction + 1e-9 >= min_visible:
            kept.append(TiledObject(i, clipped))
    return kept
