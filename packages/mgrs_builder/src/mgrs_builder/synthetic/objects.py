"""Object categories of the synthetic world: shapes in metres, colours, native labels, and rasterisation.

Each category is drawn as a few filled polygons and lines in a local frame (x along the object's
length, metres), rotated, scaled by the scene's ground sample distance and pasted into the scene.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from .textures import BARE, FARMLAND, ROAD, URBAN, WATER

Poly = np.ndarray  # (N, 2) float, metres in the local frame


@dataclass(frozen=True)
class Part:
    """One drawing primitive: a filled polygon or, with ``line_width`` > 0, a polyline (metres)."""

    points: Poly
    rgb: tuple[int, int, int]
    line_width: float = 0.0
    closed: bool = True


@dataclass(frozen=True)
class ObjectKind:
    """A world category with its native labels and its shape generator."""

    name: str  # world name, used in captions and evaluation class files
    dota: str | None  # DOTA-v1.0 class name, None when DOTA does not annotate it
    isaid: str | None  # iSAID class name (palette key), None when iSAID does not annotate it
    synonyms: tuple[str, ...]
    allowed: frozenset[int]  # land-cover ids the object may stand on
    shape: Callable[[np.random.Generator], tuple[list[Part], float]]  # parts, shadow height (m)


def _rect(length: float, width: float, cx: float = 0.0, cy: float = 0.0) -> Poly:
    h, w = length / 2, width / 2
    return np.array([(cx - h, cy - w), (cx + h, cy - w), (cx + h, cy + w), (cx - h, cy + w)], np.float64)


def _ellipse(rx: float, ry: float, n: int = 24, cx: float = 0.0, cy: float = 0.0) -> Poly:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _stadium(length: float, width: float, n: int = 12) -> Poly:
    r = width / 2
    straight = length / 2 - r
    right = [(straight + r * np.cos(t), r * np.sin(t)) for t in np.linspace(-np.pi / 2, np.pi / 2, n)]
    left = [(-straight + r * np.cos(t), r * np.sin(t)) for t in np.linspace(np.pi / 2, 3 * np.pi / 2, n)]
    return np.array(right + left, np.float64)


def _grey(rng: np.random.Generator, lo: int, hi: int) -> tuple[int, int, int]:
    v = int(rng.integers(lo, hi))
    return (v, v, v + 4 if v < 250 else v)


def _airplane(rng: np.random.Generator) -> tuple[list[Part], float]:
    length = rng.uniform(28, 42)
    body = _grey(rng, 215, 248)
    fus = np.array([(-0.5, -0.05), (0.38, -0.06), (0.5, 0.0), (0.38, 0.06), (-0.5, 0.05)]) * length
    wing = np.array([(0.12, -0.05), (-0.12, -0.46), (-0.22, -0.46), (-0.08, -0.05),
                     (-0.08, 0.05), (-0.22, 0.46), (-0.12, 0.46), (0.12, 0.05)]) * length
    tail = np.array([(-0.36, -0.03), (-0.46, -0.17), (-0.5, -0.17), (-0.46, 0.0),
                     (-0.5, 0.17), (-0.46, 0.17), (-0.36, 0.03)]) * length
    return [Part(wing, body), Part(tail, body), Part(fus, body)], 0.0


def _ship(rng: np.random.Generator) -> tuple[list[Part], float]:
    length = rng.uniform(25, 60)
    w = length * rng.uniform(0.17, 0.24)
    hull_rgb = [(225, 225, 222), (150, 40, 35), (60, 70, 90), (180, 180, 180)][int(rng.integers(0, 4))]
    hull = np.array([(-0.5 * length, -w / 2), (0.3 * length, -w / 2), (0.5 * length, 0.0),
                     (0.3 * length, w / 2), (-0.5 * length, w / 2)])
    deck = _rect(0.22 * length, 0.6 * w, cx=-0.28 * length)
    return [Part(hull, hull_rgb), Part(deck, (235, 235, 235))], 0.0


_CAR_COLOURS = [(200, 30, 30), (30, 60, 170), (235, 235, 235), (25, 25, 25), (170, 170, 175), (230, 190, 30)]


def _small_vehicle(rng: np.random.Generator) -> tuple[list[Part], float]:
    length = rng.uniform(4.6, 5.6)
    rgb = _CAR_COLOURS[int(rng.integers(0, len(_CAR_COLOURS)))]
    windows = Part(_rect(length * 0.3, length * 0.36, cx=-0.02), (40, 50, 60))
    return [Part(_rect(length, length * 0.45), rgb), windows], 0.0


def _large_vehicle(rng: np.random.Generator) -> tuple[list[Part], float]:
    length = rng.uniform(10, 16)
    width = 3.2
    body = [(240, 240, 240), (215, 110, 30), (120, 125, 130)][int(rng.integers(0, 3))]
    cab = _rect(2.4, width * 0.95, cx=length / 2 - 1.2)
    box = _rect(length - 3.0, width, cx=-1.5)
    return [Part(box, body), Part(cab, (60, 90, 150))], 0.0


def _storage_tank(rng: np.random.Generator) -> tuple[list[Part], float]:
    r = rng.uniform(6, 14)
    roof = Part(_ellipse(0.7 * r, 0.7 * r), _grey(rng, 190, 215))
    return [Part(_ellipse(r, r), _grey(rng, 225, 250)), roof], r * 0.4


def _tennis_court(rng: np.random.Generator) -> tuple[list[Part], float]:
    court = [(40, 120, 70), (40, 90, 150)][int(rng.integers(0, 2))]
    white = (245, 245, 245)
    return [
        Part(_rect(34, 17), (170, 80, 60)),
        Part(_rect(24, 11), court),
        Part(_rect(24, 11), white, line_width=0.6),
        Part(np.array([(0.0, -6.0), (0.0, 6.0)]), white, line_width=0.8, closed=False),
    ], 0.0


def _soccer_field(rng: np.random.Generator) -> tuple[list[Part], float]:
    length = rng.uniform(55, 75)
    width = length * 0.64
    white = (245, 245, 245)
    return [
        Part(_rect(length, width), (60, 160, 60)),
        Part(_rect(length * 0.94, width * 0.9), white, line_width=1.0),
        Part(np.array([(0.0, -width * 0.45), (0.0, width * 0.45)]), white, line_width=1.0, closed=False),
        Part(_ellipse(width * 0.15, width * 0.15), white, line_width=1.0),
    ], 0.0


def _ground_track_field(rng: np.random.Generator) -> tuple[list[Part], float]:
    length = rng.uniform(80, 100)
    width = length * 0.52
    return [
        Part(_stadium(length, width), (175, 70, 55)),
        Part(_stadium(length * 0.8, width * 0.66), (70, 150, 60)),
    ], 0.0


def _baseball_diamond(rng: np.random.Generator) -> tuple[list[Part], float]:
    r = rng.uniform(30, 40)
    t = np.linspace(-np.pi / 4, np.pi / 4, 10)
    fan = np.concatenate([[(-r / 2, 0.0)], np.stack([-r / 2 + r * np.cos(t), r * np.sin(t)], axis=1)])
    infield = np.array([(-0.5, 0.0), (-0.2, -0.3), (0.1, 0.0), (-0.2, 0.3)]) * r
    return [Part(fan, (90, 160, 70)), Part(infield, (195, 150, 100))], 0.0


def _swimming_pool(rng: np.random.Generator) -> tuple[list[Part], float]:
    length = rng.uniform(8, 15)
    deck = Part(_rect(length + 2, length * 0.5 + 2), (225, 225, 215))
    return [deck, Part(_rect(length, length * 0.5), (60, 190, 230))], 0.0


def _roundabout(rng: np.random.Generator) -> tuple[list[Part], float]:
    r = rng.uniform(12, 18)
    return [Part(_ellipse(r, r), (75, 75, 78)), Part(_ellipse(0.55 * r, 0.55 * r), (80, 140, 60))], 0.0


def _building(rng: np.random.Generator) -> tuple[list[Part], float]:
    length, width = rng.uniform(10, 26), rng.uniform(8, 18)
    roof = [(160, 70, 55), (150, 150, 155), (205, 200, 190), (110, 90, 80)][int(rng.integers(0, 4))]
    ridge = Part(np.array([(-length / 2, 0.0), (length / 2, 0.0)]), tuple(int(c * 0.8) for c in roof),
                 line_width=0.8, closed=False)
    return [Part(_rect(length, width), roof), ridge], 5.0


def bridge_parts(length: float, width: float) -> list[Part]:
    """A bridge deck of the given length (metres, along x) with rails; placed by the scene composer."""
    rails = Part(_rect(length, width), (215, 215, 210), line_width=0.8)
    return [Part(_rect(length, width), (170, 168, 160)), rails]


def _bridge(rng: np.random.Generator) -> tuple[list[Part], float]:
    """A stand-alone bridge; scenes normally size it to the river it crosses (``bridge_parts``)."""
    return bridge_parts(rng.uniform(30, 50), rng.uniform(8, 12)), 0.0


_ON_LAND = frozenset({URBAN, BARE})

KINDS: dict[str, ObjectKind] = {
    k.name: k
    for k in (
        ObjectKind("airplane", "plane", "plane", ("airplane", "plane"), _ON_LAND, _airplane),
        ObjectKind("ship", "ship", "ship", ("ship", "boat"), frozenset({WATER}), _ship),
        ObjectKind("small vehicle", "small-vehicle", "Small_Vehicle", ("small vehicle", "car"),
                   frozenset({ROAD, URBAN}), _small_vehicle),
        ObjectKind("large vehicle", "large-vehicle", "Large_Vehicle", ("large vehicle", "truck"),
                   frozenset({ROAD, URBAN, BARE}), _large_vehicle),
        ObjectKind("storage tank", "storage-tank", "storage_tank", ("storage tank", "tank"), _ON_LAND,
                   _storage_tank),
        ObjectKind("tennis court", "tennis-court", "tennis_court", ("tennis court",), _ON_LAND,
                   _tennis_court),
        ObjectKind("soccer field", "soccer-ball-field", "Soccer_ball_field",
                   ("soccer field", "soccer ball field"), frozenset({URBAN, BARE, FARMLAND}), _soccer_field),
        ObjectKind("ground track field", "ground-track-field", "Ground_Track_Field", ("ground track field",
                   "running track"), _ON_LAND, _ground_track_field),
        ObjectKind("baseball diamond", "baseball-diamond", "baseball_diamond", ("baseball diamond",),
                   frozenset({URBAN, FARMLAND}), _baseball_diamond),
        ObjectKind("swimming pool", "swimming-pool", "Swimming_pool", ("swimming pool", "pool"),
                   frozenset({URBAN}), _swimming_pool),
        ObjectKind("roundabout", "roundabout", "Roundabout", ("roundabout",), frozenset({URBAN, ROAD}),
                   _roundabout),
        ObjectKind("bridge", "bridge", "Bridge", ("bridge",), frozenset({WATER}), _bridge),
        ObjectKind("building", None, None, ("building", "roof", "house"), frozenset({URBAN}), _building),
    )
}

# The iSAID palette (class id order 0..15) as stored RGB triplets, per the iSAID devkit.
ISAID_PALETTE: dict[str, tuple[int, int, int]] = {
    "background": (0, 0, 0),
    "ship": (0, 0, 63),
    "storage_tank": (0, 63, 63),
    "baseball_diamond": (0, 63, 0),
    "tennis_court": (0, 63, 127),
    "basketball_court": (0, 63, 191),
    "Ground_Track_Field": (0, 63, 255),
    "Bridge": (0, 127, 63),
    "Large_Vehicle": (0, 127, 127),
    "Small_Vehicle": (0, 0, 127),
    "Helicopter": (0, 0, 191),
    "Swimming_pool": (0, 0, 255),
    "Roundabout": (0, 191, 127),
    "Soccer_ball_field": (0, 127, 191),
    "plane": (0, 127, 255),
    "Harbor": (0, 100, 155),
}


@dataclass
class PlacedObject:
    """An object pasted into a scene: its kind, oriented box corners (px, clockwise) and pixel mask window."""

    kind: str
    corners: np.ndarray  # (4, 2) px
    window: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive) of ``mask`` in the scene
    mask: np.ndarray  # bool (y1 - y0, x1 - x0)


def _transform(points: Poly, cx: float, cy: float, theta: float, scale: float) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    rot = np.array([[c, -s], [s, c]])
    return points @ rot.T * scale + np.array([cx, cy])


def _raster(shape: tuple[int, int], polys: list[tuple[np.ndarray, float, bool]]) -> np.ndarray:
    """Rasterise filled polygons / polylines (pixel coordinates relative to the window) to a bool mask."""
    img = Image.new("L", (shape[1], shape[0]), 0)
    draw = ImageDraw.Draw(img)
    for pts, line_width, closed in polys:
        xy = [tuple(p) for p in pts]
        if line_width > 0:
            draw.line(xy + ([xy[0]] if closed else []), fill=1, width=max(1, round(line_width)))
        else:
            draw.polygon(xy, fill=1)
    return np.asarray(img, dtype=bool)


def place(
    kind: ObjectKind,
    parts: list[Part],
    shadow_m: float,
    image: np.ndarray,
    occupied: np.ndarray,
    cx: float,
    cy: float,
    theta: float,
    px_per_m: float,
    margin: int = 2,
) -> PlacedObject | None:
    """Paste an object if it lies inside the image and does not touch another one; else None.

    ``image`` (float32 HxWx3) and ``occupied`` (bool HxW) are updated in place.
    """
    size_y, size_x = occupied.shape
    allpts = np.concatenate([p.points for p in parts])
    lo, hi = allpts.min(axis=0), allpts.max(axis=0)
    box = np.array([(lo[0], lo[1]), (hi[0], lo[1]), (hi[0], hi[1]), (lo[0], hi[1])])
    corners = _transform(box, cx, cy, theta, px_per_m)
    x0, y0 = np.floor(corners.min(axis=0)).astype(int) - margin
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + margin + 1
    if x0 < 0 or y0 < 0 or x1 > size_x or y1 > size_y:
        return None
    origin = np.array([x0, y0], np.float64)
    shape = (y1 - y0, x1 - x0)
    local = [(_transform(p.points, cx, cy, theta, px_per_m) - origin, p.line_width * px_per_m, p.closed)
             for p in parts]
    fills = [(pts, 0.0, True) for (pts, lw, closed), p in zip(local, parts) if p.line_width == 0]
    mask = _raster(shape, fills)
    footprint = _raster(shape, [(corners - origin, 0.0, True), (corners - origin, 2.0 * margin, True)]) | mask
    if not mask.any() or occupied[y0:y1, x0:x1][footprint].any():
        return None
    view = image[y0:y1, x0:x1]
    if shadow_m > 0:
        off = shadow_m * px_per_m * 0.5
        shadow = _raster(shape, [(pts + off, 0.0, True) for pts, _, _ in fills]) & ~mask
        view[shadow] *= 0.55
    for (pts, lw, closed), part in zip(local, parts):
        m = _raster(shape, [(pts, lw, closed)]) & mask
        view[m] = part.rgb
    occupied[y0:y1, x0:x1] |= mask
    return PlacedObject(kind.name, corners, (int(x0), int(y0), int(x1), int(y1)), mask)
