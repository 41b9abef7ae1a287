"""Potsdam and Vaihingen readers: colour legend -> regions, eroded pixels, torchgeo's trees."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from mgrs_builder.errors import AnnotationParseError
from mgrs_builder.sources import get_reader
from tests.builder.fixtures import potsdam as potsdam_fixture
from tests.builder.fixtures import vaihingen as vaihingen_fixture
from tests.builder.fixtures.isprs import write_label_tif


FIXTURES = [("potsdam", potsdam_fixture), ("vaihingen", vaihingen_fixture)]


@pytest.mark.parametrize(("name", "fixture"), FIXTURES)
def test_generated_trees(tmp_path: Path, name: str, fixture) -> None:  # noqa: ANN001
    root = fixture.make(tmp_path)
    images = list(get_reader(name).iter_images(root))
    exp = fixture.EXPECTED
    assert {im.image_id: len(im.objects) for im in images} == exp["objects_per_image"]
    assert {im.image_id: im.split for im in images} == exp["splits"]
    assert Counter(o.label for o in images[0].objects) == exp["labels"]
    assert images[1].annotation_path is None and images[0].width is not None


def test_potsdam_areas_skip_black_and_snap_noise(tmp_path: Path) -> None:
    root = potsdam_fixture.make(tmp_path)
    label = potsdam_fixture.label()
    label[0, 0] = (250, 251, 249)  # compression noise on white: snapped, counted
    write_label_tif(root / "5_Labels_all" / "top_potsdam_2_10_label.tif", label)
    image = next(get_reader("potsdam").iter_images(root))
    area: Counter[str] = Counter()
    for o in image.objects:
        area[o.label] += int(o.attributes["area_px"])
    assert area == potsdam_fixture.EXPECTED["area"] and image.meta["snapped_px"] == "1"


def test_unknown_colour(tmp_path: Path) -> None:
    root = vaihingen_fixture.make(tmp_path)
    label = vaihingen_fixture.label()
    label[47, 0:2] = (255, 0, 255)
    write_label_tif(root / "gts_for_participants" / "top_mosaic_09cm_area1.tif", label)
    with pytest.raises(AnnotationParseError, match=r"area1.tif: colour \(255, 0, 255\) \(2 px\)"):
        list(get_reader("vaihingen").iter_images(root))
    image = next(get_reader("vaihingen").iter_images(root, "skip"))
    assert image.rejected[0].reason == "unknown_colour" and len(image.objects) == 3


@pytest.mark.fixtures
@pytest.mark.parametrize(
    ("name", "ids"),
    [
        ("potsdam", ["top_potsdam_2_10", "top_potsdam_2_11", "top_potsdam_5_15", "top_potsdam_6_15"]),
        ("vaihingen", [f"top_mosaic_09cm_area{n}" for n in (1, 11, 24, 6)]),
    ],
)
def test_real_torchgeo_isprs_trees(shared_fixtures: Path, name: str, ids: list[str]) -> None:
    images = list(get_reader(name).iter_images(shared_fixtures / "torchgeo" / "tests" / "data" / name))
    assert [im.image_id for im in images] == ids
    for im in images:  # each 2x2 label holds one pixel of four classes
        labels = Counter(o.label for o in im.objects)
        assert labels == {"impervious surfaces": 1, "building": 1, "low vegetation": 1, "clutter": 1}
    assert [im.split for im in images].count("test") == 2

