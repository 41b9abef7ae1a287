"""Polygon checks and clipping (shapely), in source-image pixel coordinates.

Pixel coordinates are continuous: the image covers ``[0, width] x [0, height]``, x to the right,
y down. Every check returns a short reason code (used as the rejection reason in the build report)
instead of raising, so that the builder decides between an error and a counted skip.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import shapely
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

Point = tuple[float, float]
Window = tuple[int, int, int, int]

# Rejection reason codes (stable strings: they are keys of objects_rejected in the build report).
NAN_COORDINATES = "nan_coordinates"
TOO_FEW_POINTS = "too_few_points"
DEGENERATE = "degenerate_polygon"
SELF_INTERSECTING = "self_intersecting_polygon"
OUTSIDE_IMAGE = "outside_image"

#: Areas (px^2) at or below this count as zero.
MIN_AREA = 1e-6


@dataclass(frozen=True)
class CheckedPolygon:
    """A validated object outline: the exterior ring, clipped to the image, as a shapely polygon."""

    shape: Polygon
    area: float
    clipped_to_image: bool


def polygon_problem(points: Sequence[Point], width: int, height: int) -> tuple[str, str] | None:
    """Why ``points`` is not a usable outline inside a ``width`` x ``height`` image, or None.

    Args:
        points: exterior ring without the closing point.
        width: image width in pixels.
        height: image height in pixels.

    Returns:
        ``(reason_code, human readable detail)``, or None when the polygon is fine.
    """
    if len(points) < 3:
        return TOO_FEW_POINTS, f"{len(points)} points (expected at least 3)"
    flat = [c for p in points for c in p]
    if any(not math.isfinite(c) for c in flat):
        return NAN_COORDINATES, f"non-finite coordinate in {list(points)}"
    poly = Polygon(points)
    if poly.convex_hull.area <= MIN_AREA:  # collinear or repeated points (a bow tie has area 0 too)
        return DEGENERATE, f"zero area polygon {list(points)}"
    if not poly.is_valid:
        return SELF_INTERSECTING, f"{shapely.is_valid_reason(poly)} in {list(points)}"
    if poly.area <= MIN_AREA:
        return DEGENERATE, f"zero area polygon {list(points)}"
    inside = poly.intersection(box(0, 0, width, height)).area
    if inside <= MIN_AREA:
        return OUTSIDE_IMAGE, f"polygon {list(points)} lies outside the {width}x{height} image"
    return None


def check_polygon(points: Sequence[Point], width: int, height: int) -> CheckedPolygon:
    """Validate ``points`` and clip them to the image.

    Raises:
        ValueError: with the reason code as ``args[0]`` and the detail as ``args[1]``.
    """
    problem = polygon_problem(points, width, height)
    if problem is not None:
        raise ValueError(*problem)
    poly = orient(Polygon(points), sign=1.0)
    image = box(0, 0, width, height)
    if image.contains(poly):
        return CheckedPolygon(poly, poly.area, False)
    clipped = largest_polygon(poly.intersection(image))
    return CheckedPolygon(clipped, clipped.area, True)


def largest_polygon(geom: BaseGeometry) -> Polygon:
    """The largest polygonal part of an intersection result (empty polygon if there is none)."""
    if isinstance(geom, Polygon):
        return geom
    if isinstance(geom, MultiPolygon) or hasattr(geom, "geoms"):
        parts = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon)]
        if parts:
            return max(parts, key=lambda g: g.area)
    return Polygon()


def hbb(points: Sequence[Point]) -> tuple[float, float, float, float]:
    """Horizontal box ``(x1, y1, x2, y2)`` of a point list (min/max of the corners)."""
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


@dataclass(frozen=True)
class Clipped:
    """An object's part inside a tile, in tile pixels."""

    bbox: tuple[float, float, float, float]
    polygon: tuple[float, ...]
    visible_fraction: float
    truncated: bool


def clip_to_window(shape: Polygon, area: float, window: Window) -> Clipped | None:
    """Clip ``shape`` to ``window`` (source pixels) and shift it into tile pixels.

    ``visible_fraction`` is the DOTA devkit's IoF: area inside the tile over the object's area.
    The box covers every part of the intersection; the polygon is the exterior ring of the largest
    part (concave mask regions can split in two at a border). An untouched object keeps its
    original vertices. Returns None when nothing of the object is inside the window.
    """
    x0, y0, x1, y1 = window
    tile = box(x0, y0, x1, y1)
    if tile.contains(shape):
        inter: BaseGeometry = shape
        fraction = 1.0
    else:
        inter = shape.intersection(tile)
        if inter.is_empty or inter.area <= MIN_AREA:
            return None
        fraction = min(1.0, inter.area / area)
    part = largest_polygon(inter)
    if part.is_empty:
        return None
    bx1, by1, bx2, by2 = inter.bounds
    w, h = x1 - x0, y1 - y0
    bbox = (
        _clamp(bx1 - x0, w),
        _clamp(by1 - y0, h),
        _clamp(bx2 - x0, w),
        _clamp(by2 - y0, h),
    )
    ring = list(part.exterior.coords)[:-1]
    flat = tuple(v for x, y in ring for v in (_clamp(x - x0, w), _clamp(y - y0, h)))
    return Clipped(bbox, flat, fraction, fraction < 1.0)


def _clamp(v: float, hi: float) -> float:
    return float(min(max(v, 0.0), hi))
