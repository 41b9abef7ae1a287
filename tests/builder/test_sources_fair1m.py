"""FAIR1M reader: generated tree, malformed points, torchgeo's tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from mgrs_builder.errors import AnnotationParseError
from mgrs_builder.sources import get_reader
from tests.builder.fixtures import fair1m as fair1m_fixture


def test_generated_tree(tmp_path: Path) -> None:
    root = fair1m_fixture.make(tmp_path)
    images = list(get_reader("fair1m").iter_images(root))
    exp = fair1m_fixture.EXPECTED
    assert {im.image_id: len(im.objects) for im in images} == exp["objects_per_image"]
    assert {im.image_id: im.split for im in images} == exp["splits"]
    first = images[0]
    assert first.objects[0].polygon == exp["first_polygon"] and first.objects[0].label == "Boeing737"
    assert first.meta == {"origin": "GF2"} and (first.width, first.height) == (64, 64)
    assert images[3].annotation_path is None


def test_bad_point(tmp_path: Path) -> None:
    root = fair1m_fixture.make(tmp_path)
    xml = root / "train" / "part1" / "labelXml" / "1.xml"
    bad = xml.read_text().replace("<point>50.000000,50.000000</point>", "<point>50.0;50.0</point>", 1)
    xml.write_text(bad)
    with pytest.raises(AnnotationParseError, match=r"1.xml:2: object 2 \(Small Car\): point '50.0;50.0'"):
        list(get_reader("fair1m").iter_images(root))
    first = next(get_reader("fair1m").iter_images(root, "skip"))
    assert len(first.objects) == 1 and first.rejected[0].line == 2


@pytest.mark.fixtures
def test_real_torchgeo_fair1m_tree(shared_fixtures: Path) -> None:
    root = shared_fixtures / "torchgeo" / "tests" / "data" / "fair1m"
    images = list(get_reader("fair1m").iter_images(root))
    assert len(images) == 16 and len({im.image_id for im in images}) == 16
    labelled = [im for im in images if im.annotation_path is not None]
    assert len(labelled) == 12 and all(len(im.objects) == 1 for im in labelled)
    labels = {o.label for im in labelled for o in im.objects}
    assert labels == {"Liquid Cargo Ship", "Cargo Truck", "Boeing737", "A220"}
    assert all(len(o.polygon) == 4 for im in labelled for o in im.objects)  # closing point dropped
