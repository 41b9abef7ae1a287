"""Label masks -> per-region polygons (connected components via ``rasterio.features.shapes``)."""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import rasterio.features
from PIL import Image
from rasterio.errors import NotGeoreferencedWarning
from shapely.geometry import MultiPolygon, Polygon

Ring = tuple[tuple[float, float], ...]


def read_mask(path: Path, rgb: bool) -> np.ndarray:
    """Pixels of a label mask: (H, W) for index masks, (H, W, 3) uint8 for colour masks.

    TIFF label files are read with rasterio (they may be band-interleaved); PNGs with PIL.
    """
    if path.suffix.lower() in (".tif", ".tiff"):
        with warnings.catch_warnings():  # plain label TIFFs carry no georeference; pixels are all we use
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                data = src.read()
        arr = np.moveaxis(data[:3], 0, -1) if rgb else data[0]
    else:
        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB") if rgb else im)
    if rgb and (arr.ndim != 3 or arr.shape[-1] != 3):
        raise ValueError(f"{path}: expected an RGB colour mask, got shape {arr.shape}")
    if not rgb and arr.ndim != 2:
        raise ValueError(f"{path}: expected a single-band index mask, got shape {arr.shape}")
    return arr


def rgb_codes(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W) int32 code ``r << 16 | g << 8 | b``."""
    rgb = rgb.astype(np.int32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def code_to_rgb(code: int) -> tuple[int, int, int]:
    """Inverse of ``rgb_codes`` for one code."""
    return (code >> 16) & 255, (code >> 8) & 255, code & 255


def colours_to_index(
    codes: np.ndarray, palette: Mapping[tuple[int, int, int], int], fill: int = -1
) -> tuple[np.ndarray, dict[tuple[int, int, int], int]]:
    """Map colour codes to palette indices; returns the index mask (``fill`` elsewhere) and the
    pixel count of every colour that is not in the palette."""
    values, inverse, counts = np.unique(codes, return_inverse=True, return_counts=True)
    lut = np.full(len(values), fill, dtype=np.int32)
    unknown: dict[tuple[int, int, int], int] = {}
    for i, (code, count) in enumerate(zip(values.tolist(), counts.tolist(), strict=True)):
        rgb = code_to_rgb(int(code))
        if rgb in palette:
            lut[i] = palette[rgb]
        else:
            unknown[rgb] = int(count)
    return lut[inverse.reshape(codes.shape)], unknown


def regions(labels: np.ndarray, valid: np.ndarray | None = None) -> dict[int, list[Polygon]]:
    """Connected regions (4-connectivity) of equal value, grouped by value, in raster order.

    ``labels`` must be an integer array; ``valid`` marks the pixels to consider (default: all).
    Coordinates are pixel edges: a single pixel at (0, 0) is the square (0,0)-(1,1).
    """
    labels = np.ascontiguousarray(labels, dtype=np.int32)
    mask = None if valid is None else np.ascontiguousarray(valid, dtype=bool)
    grouped: dict[int, list[Polygon]] = defaultdict(list)
    for geom, value in rasterio.features.shapes(labels, mask=mask, connectivity=4):
        rings = geom["coordinates"]
        grouped[int(value)].append(Polygon(rings[0], rings[1:]))
    return dict(grouped)


def exterior(poly: Polygon) -> Ring:
    """The exterior ring without the closing point."""
    coords = list(poly.exterior.coords)[:-1]
    return tuple((float(x), float(y)) for x, y in coords)


def merge_parts(parts: list[Polygon]) -> tuple[Ring, dict[str, str]]:
    """One ring for an instance that may be split into several parts.

    One part keeps its exact outline; several become the convex hull of their union (so the box of
    the instance is exact), noted in the returned attributes.
    """
    if len(parts) == 1:
        poly = parts[0]
        return exterior(poly), {"holes": str(len(poly.interiors))} if poly.interiors else {}
    hull = MultiPolygon(parts).convex_hull
    return exterior(hull), {"parts": str(len(parts)), "geometry": "convex_hull"}
