"""Procedural textures for land-cover classes: cheap value noise, stripes and crowns (numpy + PIL)."""

from __future__ import annotations

import numpy as np
from PIL import Image

# Land-cover classes of the world, in a fixed order (ids are indices into this tuple).
LAND_COVER: tuple[str, ...] = ("water", "forest", "farmland", "bare land", "urban area", "road")
WATER, FOREST, FARMLAND, BARE, URBAN, ROAD = range(len(LAND_COVER))

_BASE_RGB = {
    WATER: (38, 78, 118),
    FOREST: (40, 82, 38),
    FARMLAND: (150, 160, 80),
    BARE: (176, 150, 112),
    URBAN: (128, 126, 122),
    ROAD: (68, 68, 70),
}


def value_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Smooth noise in [-1, 1] of shape (size, size): a random ``cells`` grid resized bicubically."""
    grid = rng.uniform(-1.0, 1.0, (cells, cells)).astype(np.float32)
    img = Image.fromarray(grid, mode="F").resize((size, size), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(img), -1.0, 1.0)


def fractal_noise(rng: np.random.Generator, size: int, octaves: tuple[int, ...] = (4, 16, 64)) -> np.ndarray:
    """Sum of value-noise octaves with halving amplitude, in about [-1, 1]."""
    out = np.zeros((size, size), np.float32)
    amp, total = 1.0, 0.0
    for cells in octaves:
        out += amp * value_noise(rng, size, min(cells, size))
        total += amp
        amp *= 0.5
    return out / total


def _tint(base: tuple[int, int, int], shade: np.ndarray, strength: float) -> np.ndarray:
    rgb = np.asarray(base, np.float32)[None, None, :]
    return rgb * (1.0 + strength * shade[..., None])


def texture(rng: np.random.Generator, cover: int, size: int) -> np.ndarray:
    """An RGB float32 texture (size, size, 3) for one land-cover class."""
    n = fractal_noise(rng, size)
    if cover == WATER:
        waves = np.sin(np.linspace(0, rng.uniform(20, 40), size))[None, :] * 0.03
        tex = _tint(_BASE_RGB[WATER], 0.12 * n + waves, 1.0)
    elif cover == FOREST:
        crowns = fractal_noise(rng, size, (size // 3, size // 2))
        tex = _tint(_BASE_RGB[FOREST], 0.35 * n + 0.45 * crowns, 1.0)
    elif cover == FARMLAND:
        tex = _farmland(rng, size, n)
    elif cover == BARE:
        tex = _tint(_BASE_RGB[BARE], 0.18 * n + 0.08 * fractal_noise(rng, size, (size // 2,)), 1.0)
    elif cover == URBAN:
        yy, xx = np.mgrid[0:size, 0:size]
        joints = ((xx % 24 == 0) | (yy % 24 == 0)).astype(np.float32) * -0.08
        tex = _tint(_BASE_RGB[URBAN], 0.1 * n + joints, 1.0)
    elif cover == ROAD:
        tex = _tint(_BASE_RGB[ROAD], 0.06 * n, 1.0)
    else:
        raise ValueError(f"unknown land-cover id {cover} (expected 0..{len(LAND_COVER) - 1})")
    return tex


def _farmland(rng: np.random.Generator, size: int, n: np.ndarray) -> np.ndarray:
    """Parcels of crop stripes with one colour per parcel."""
    palette = np.array([(150, 160, 80), (110, 140, 60), (190, 170, 100), (130, 120, 70), (90, 130, 50)],
                       np.float32)
    parcel = max(24, size // 4)
    cells = -(-size // parcel)
    colours = palette[rng.integers(0, len(palette), (cells, cells))]
    angles = rng.choice([0.0, np.pi / 2], (cells, cells))
    yy, xx = np.mgrid[0:size, 0:size]
    cy, cx = yy // parcel, xx // parcel
    base = colours[cy, cx]
    ang = angles[cy, cx]
    stripes = np.sin((np.where(ang == 0, xx, yy)) * rng.uniform(0.9, 1.4)) * 0.07
    border = ((xx % parcel < 1) | (yy % parcel < 1)).astype(np.float32) * -0.25
    return base * (1.0 + (0.08 * n + stripes + border)[..., None])
