"""Land-cover maps: warped Voronoi regions, coastlines, rivers and road networks."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from .textures import BARE, FARMLAND, FOREST, ROAD, URBAN, WATER, fractal_noise

Point = tuple[float, float]


@dataclass
class LandCover:
    """A land-cover label map (uint8 ids of ``textures.LAND_COVER``) and the linear features drawn on it."""

    labels: np.ndarray
    roads: list[tuple[Point, Point, float]] = field(default_factory=list)  # (start, end, width px)
    rivers: list[tuple[Point, Point, float]] = field(default_factory=list)


def voronoi(rng: np.random.Generator, size: int, weights: dict[int, float], cells: int) -> np.ndarray:
    """Warped Voronoi regions whose classes are drawn from ``weights`` (class id -> weight)."""
    ids = np.array(list(weights), np.int64)
    p = np.array(list(weights.values()), np.float64)
    p = p / p.sum()
    seeds = rng.uniform(0, size, (cells, 2))
    classes = rng.choice(ids, size=cells, p=p)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    warp = size * 0.08
    xx = xx + warp * fractal_noise(rng, size, (3, 8))
    yy = yy + warp * fractal_noise(rng, size, (3, 8))
    d = (xx[None] - seeds[:, 0, None, None]) ** 2 + (yy[None] - seeds[:, 1, None, None]) ** 2
    return classes[np.argmin(d, axis=0)].astype(np.uint8)


def add_coast(rng: np.random.Generator, labels: np.ndarray, fraction: float) -> None:
    """Turn one side of the map into sea with a wavy coastline covering about ``fraction`` of it."""
    size = labels.shape[0]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    side = rng.integers(0, 4)
    coord = (xx, yy, size - 1 - xx, size - 1 - yy)[side]
    wobble = size * 0.06 * fractal_noise(rng, size, (3, 6))
    labels[coord + wobble < fraction * size] = WATER


def add_lake(rng: np.random.Generator, labels: np.ndarray, radius_frac: float) -> None:
    """A blob of water around a random centre."""
    size = labels.shape[0]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cx, cy = rng.uniform(0.3, 0.7, 2) * size
    r = np.hypot(xx - cx, yy - cy) / size
    labels[r + 0.08 * fractal_noise(rng, size, (4, 8)) < radius_frac] = WATER


def _edge_to_edge(rng: np.random.Generator, size: int) -> tuple[Point, Point]:
    """A straight line crossing the map between two opposite borders."""
    a, b = rng.uniform(0.15, 0.85, 2) * size
    if rng.random() < 0.5:
        return (float(a), -5.0), (float(b), size + 5.0)
    return (-5.0, float(a)), (size + 5.0, float(b))


def draw_band(labels: np.ndarray, start: Point, end: Point, width: float, cover: int) -> None:
    """Paint a straight band of ``cover`` of ``width`` pixels on the label map."""
    img = Image.fromarray(labels)
    ImageDraw.Draw(img).line([start, end], fill=int(cover), width=max(1, round(width)))
    labels[...] = np.asarray(img)


def add_river(rng: np.random.Generator, cover: LandCover, width: float) -> None:
    start, end = _edge_to_edge(rng, cover.labels.shape[0])
    draw_band(cover.labels, start, end, width, WATER)
    cover.rivers.append((start, end, width))


def add_roads(rng: np.random.Generator, cover: LandCover, count: int, width: float) -> None:
    for _ in range(count):
        start, end = _edge_to_edge(rng, cover.labels.shape[0])
        draw_band(cover.labels, start, end, width, ROAD)
        cover.roads.append((start, end, width))


def add_road_grid(rng: np.random.Generator, cover: LandCover, spacing: float, width: float) -> None:
    """An axis-aligned street grid with a random phase."""
    size = cover.labels.shape[0]
    for axis in (0, 1):
        pos = rng.uniform(0.2, 0.8) * spacing
        while pos < size:
            line = ((pos, -5.0), (pos, size + 5.0)) if axis == 0 else ((-5.0, pos), (size + 5.0, pos))
            draw_band(cover.labels, line[0], line[1], width, ROAD)
            cover.roads.append((line[0], line[1], width))
            pos += spacing * rng.uniform(0.8, 1.2)


__all__ = [
    "BARE",
    "FARMLAND",
    "FOREST",
    "LandCover",
    "ROAD",
    "URBAN",
    "WATER",
    "add_coast",
    "add_lake",
    "add_river",
    "add_road_grid",
    "add_roads",
    "draw_band",
    "voronoi",
]
