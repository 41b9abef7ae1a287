"""Scene classes and the scene composer: land cover, then objects, then a rendered RGB image."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import landcover as lc
from .landcover import BARE, FARMLAND, FOREST, ROAD, URBAN, LandCover
from .objects import KINDS, PlacedObject, bridge_parts, place
from .textures import LAND_COVER, texture

# Counts in the recipes are per reference area: a square of this many metres on a side.
REFERENCE_SIDE_M = 115.0


@dataclass(frozen=True)
class SceneRecipe:
    """How one scene class is drawn: its land cover and objects (kind -> (min, max) per reference area)."""

    name: str
    phrase: str  # noun phrase used in captions, e.g. "an airport"
    cover: Callable[[np.random.Generator, int, float], LandCover]  # (rng, size px, px per metre)
    objects: dict[str, tuple[int, int]] = field(default_factory=dict)
    aligned: bool = False  # objects share one orientation (parking rows, street blocks)


def _base(rng: np.random.Generator, size: int, weights: dict[int, float], cells: int = 5) -> LandCover:
    return LandCover(lc.voronoi(rng, size, weights, cells))


def _roads(rng: np.random.Generator, cover: LandCover, ppm: float, lo: int, hi: int) -> LandCover:
    lc.add_roads(rng, cover, int(rng.integers(lo, hi + 1)), rng.uniform(8, 12) * ppm)
    return cover


def _airport(rng, size, ppm):
    return _roads(rng, _base(rng, size, {URBAN: 0.6, BARE: 0.4}, 4), ppm, 0, 1)


def _harbor(rng, size, ppm):
    cover = _roads(rng, _base(rng, size, {URBAN: 0.7, BARE: 0.3}, 4), ppm, 0, 1)
    lc.add_coast(rng, cover.labels, rng.uniform(0.4, 0.6))
    return cover


def _farmland(rng, size, ppm):
    return _roads(rng, _base(rng, size, {FARMLAND: 0.85, FOREST: 0.15}, 6), ppm, 0, 1)


def _forest(rng, size, ppm):
    return _roads(rng, _base(rng, size, {FOREST: 0.9, FARMLAND: 0.1}, 6), ppm, 0, 1)


def _river(rng, size, ppm):
    cover = _roads(rng, _base(rng, size, {FOREST: 0.5, FARMLAND: 0.5}, 5), ppm, 1, 1)
    lc.add_river(rng, cover, rng.uniform(22, 36) * ppm)
    return cover


def _residential(rng, size, ppm):
    cover = _base(rng, size, {URBAN: 1.0}, 3)
    lc.add_road_grid(rng, cover, rng.uniform(50, 70) * ppm, rng.uniform(7, 10) * ppm)
    return cover


def _industrial(rng, size, ppm):
    return _roads(rng, _base(rng, size, {BARE: 0.6, URBAN: 0.4}, 4), ppm, 1, 1)


def _sports(rng, size, ppm):
    return _roads(rng, _base(rng, size, {URBAN: 0.6, BARE: 0.2, FARMLAND: 0.2}, 4), ppm, 0, 1)


def _parking(rng, size, ppm):
    return _roads(rng, _base(rng, size, {URBAN: 1.0}, 2), ppm, 1, 1)


def _desert(rng, size, ppm):
    return _roads(rng, _base(rng, size, {BARE: 1.0}, 3), ppm, 0, 1)


SCENES: dict[str, SceneRecipe] = {
    r.name: r
    for r in (
        SceneRecipe("airport", "an airport", _airport,
                    {"airplane": (2, 4), "large vehicle": (0, 2), "small vehicle": (0, 3)}),
        SceneRecipe("harbor", "a harbor", _harbor,
                    {"ship": (2, 5), "storage tank": (0, 1), "large vehicle": (0, 2), "building": (0, 2)}),
        SceneRecipe("farmland", "farmland", _farmland, {"building": (0, 1)}),
        SceneRecipe("forest", "a forest", _forest, {}),
        SceneRecipe("river", "a river", _river, {"ship": (0, 1)}),
        SceneRecipe("residential area", "a residential area", _residential,
                    {"building": (6, 12), "small vehicle": (2, 6), "swimming pool": (0, 2)}, aligned=True),
        SceneRecipe("industrial area", "an industrial area", _industrial,
                    {"storage tank": (3, 6), "large vehicle": (1, 3), "building": (1, 2)}),
        SceneRecipe("sports ground", "a sports ground", _sports,
                    {"ground track field": (0, 1), "soccer field": (0, 1), "tennis court": (1, 3),
                     "baseball diamond": (0, 1)}),
        SceneRecipe("parking lot", "a parking lot", _parking,
                    {"small vehicle": (8, 20), "large vehicle": (0, 3)}, aligned=True),
        SceneRecipe("desert", "a desert", _desert, {"large vehicle": (0, 1)}),
    )
}


@dataclass
class Scene:
    """A rendered scene with everything the writers need."""

    scene_class: str
    image: np.ndarray  # uint8 (H, W, 3)
    cover: np.ndarray  # uint8 (H, W) land-cover ids of textures.LAND_COVER (under the objects)
    objects: list[PlacedObject]
    gsd: float  # metres per pixel


def _road_spot(rng: np.random.Generator, cover: LandCover) -> tuple[float, float, float]:
    (x0, y0), (x1, y1), width = cover.roads[int(rng.integers(0, len(cover.roads)))]
    t = rng.uniform(0.05, 0.95)
    theta = float(np.arctan2(y1 - y0, x1 - x0))
    off = rng.uniform(-0.25, 0.25) * width
    return x0 + t * (x1 - x0) - off * np.sin(theta), y0 + t * (y1 - y0) + off * np.cos(theta), theta


def _intersection(a, b) -> tuple[float, float] | None:
    (p1, p2, _), (q1, q2, _) = a, b
    d = (p2[0] - p1[0]) * (q2[1] - q1[1]) - (p2[1] - p1[1]) * (q2[0] - q1[0])
    if abs(d) < 1e-9:
        return None
    t = ((q1[0] - p1[0]) * (q2[1] - q1[1]) - (q1[1] - p1[1]) * (q2[0] - q1[0])) / d
    return p1[0] + t * (p2[0] - p1[0]), p1[1] + t * (p2[1] - p1[1])


def _place_bridges(scene_objects, image, occupied, cover: LandCover, ppm: float) -> None:
    for river in cover.rivers:
        for road in cover.roads:
            hit = _intersection(road, river)
            if hit is None:
                continue
            (r0, r1, road_w), (v0, v1, river_w) = road, river
            theta = float(np.arctan2(r1[1] - r0[1], r1[0] - r0[0]))
            phi = float(np.arctan2(v1[1] - v0[1], v1[0] - v0[0]))
            crossing = river_w / max(abs(np.sin(theta - phi)), 0.3)
            parts = bridge_parts((crossing + 1.2 * road_w) / ppm, road_w / ppm * 1.1)
            placed = place(KINDS["bridge"], parts, 0.0, image, occupied, hit[0], hit[1], theta, ppm)
            if placed is not None:
                scene_objects.append(placed)


def compose(rng: np.random.Generator, scene_class: str, size: int, gsd_range: tuple[float, float]) -> Scene:
    """Draw one scene of ``scene_class`` at ``size`` x ``size`` pixels."""
    recipe = SCENES[scene_class]
    gsd = float(rng.uniform(*gsd_range))
    ppm = 1.0 / gsd
    cover = recipe.cover(rng, size, ppm)
    labels = cover.labels
    image = np.zeros((size, size, 3), np.float32)
    for cid in np.unique(labels):
        mask = labels == cid
        image[mask] = texture(rng, int(cid), size)[mask]
    occupied = np.zeros((size, size), bool)
    objects: list[PlacedObject] = []
    _place_bridges(objects, image, occupied, cover, ppm)
    area_ratio = (size * gsd / REFERENCE_SIDE_M) ** 2
    shared_theta = float(rng.uniform(0, np.pi)) if recipe.aligned else None
    if recipe.aligned and cover.roads:
        (x0, y0), (x1, y1), _ = cover.roads[0]
        shared_theta = float(np.arctan2(y1 - y0, x1 - x0))
    for name, (lo, hi) in recipe.objects.items():
        kind = KINDS[name]
        wanted = int(round(rng.integers(lo, hi + 1) * area_ratio))
        placed = 0
        for _ in range(40 * max(wanted, 1)):
            if placed >= wanted:
                break
            if ROAD in kind.allowed and cover.roads and rng.random() < 0.5:
                cx, cy, theta = _road_spot(rng, cover)
                theta += np.pi * int(rng.integers(0, 2))
            else:
                cx, cy = rng.uniform(0, size, 2)
                theta = float(rng.uniform(0, 2 * np.pi))
                if shared_theta is not None:
                    theta = shared_theta + np.pi / 2 * int(rng.integers(0, 4)) + rng.normal(0, 0.03)
            if labels[int(cy) % size, int(cx) % size] not in kind.allowed:
                continue
            parts, shadow = kind.shape(rng)
            obj = place(kind, parts, shadow, image, occupied, cx, cy, theta, ppm)
            if obj is not None:
                objects.append(obj)
                placed += 1
    image *= rng.uniform(0.9, 1.1)  # exposure jitter
    image += rng.normal(0, 3.0, image.shape).astype(np.float32)
    return Scene(scene_class, np.clip(image, 0, 255).astype(np.uint8), labels, objects, gsd)


def cover_fractions(scene: Scene) -> dict[str, float]:
    """Share of the image under each land-cover class (objects ignored)."""
    counts = np.bincount(scene.cover.ravel(), minlength=len(LAND_COVER)) / scene.cover.size
    return {LAND_COVER[i]: float(c) for i, c in enumerate(counts) if c > 0}
