"""LoveDA reader: generated masks (exact regions), bad values and torchgeo's tree."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from shapely.geometry import Polygon

from mgrs_builder.errors import AnnotationParseError
from mgrs_builder.sources import get_reader
from tests.builder.fixtures import loveda as loveda_fixture


def test_generated_tree_exact_regions(tmp_path: Path) -> None:
    root = loveda_fixture.make(tmp_path)
    images = list(get_reader("loveda").iter_images(root))
    exp = loveda_fixture.EXPECTED
    assert [im.image_id for im in images] == sorted(exp["objects_per_image"])
    assert {im.image_id: len(im.objects) for im in images} == exp["objects_per_image"]
    assert {im.image_id: im.split for im in images} == exp["splits"]
    by_id = {im.image_id: im for im in images}
    for image_id, labels in exp["labels"].items():
        assert Counter(o.label for o in by_id[image_id].objects) == labels
    urban = by_id["1366"]
    areas: Counter[str] = Counter()
    for o in urban.objects:
        areas[o.label] += int(o.attributes["area_px"])
        assert abs(Polygon(o.polygon).area - int(o.attributes["area_px"])) < 1e-6 or "holes" in o.attributes
    assert areas == exp["areas"]["1366"]
    buildings = sorted(Polygon(o.polygon).bounds for o in urban.objects if o.label == "building")
    assert buildings == [(10, 10, 20, 20), (40, 10, 50, 20)]
    assert urban.meta["domain"] == "urban" and by_id["4001"].annotation_path is None
    assert [o.line for o in urban.objects] == [1, 2, 3, 4]


def test_values_outside_the_palette(tmp_path: Path) -> None:
    root = loveda_fixture.make(tmp_path)
    mask_path = root / "Train" / "Rural" / "masks_png" / "2001.png"
    mask = np.asarray(Image.open(mask_path)).copy()
    mask[0, :3] = 9
    Image.fromarray(mask).save(mask_path)
    with pytest.raises(AnnotationParseError, match=r"2001.png: 3 px have values \[9\]"):
        list(get_reader("loveda").iter_images(root))
    rural = {im.image_id: im for im in get_reader("loveda").iter_images(root, "skip")}["2001"]
    assert [r.reason for r in rural.rejected] == ["unknown_value"] and len(rural.objects) == 2


@pytest.mark.fixtures
def test_real_torchgeo_loveda_tree(shared_fixtures: Path) -> None:
    root = shared_fixtures / "torchgeo" / "tests" / "data" / "loveda"
    images = list(get_reader("loveda").iter_images(root))
    assert [im.image_id for im in images] == [
        "test-rural_01", "test-urban_01", "train-rural_01", "train-urban_01", "val-rural_01", "val-urban_01",
    ]  # fmt: skip
    assert [im.annotation_path is None for im in images] == [True, True, False, False, False, False]
    assert all(im.width == 2 and im.objects == () for im in images)  # torchgeo's masks are all no-data
