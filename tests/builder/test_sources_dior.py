"""DIOR / DIOR-R reader: generated tree (both box kinds), malformed XML, real DIOR-R 00001, torchgeo."""

from __future__ import annotations

from pathlib import Path

import pytest

from mgrs_builder.errors import AnnotationParseError
from mgrs_builder.sources import get_reader
from tests.builder.fixtures import dior as dior_fixture


def test_generated_tree_oriented_and_horizontal(tmp_path: Path) -> None:
    root = dior_fixture.make(tmp_path)
    exp = dior_fixture.EXPECTED
    oriented = list(get_reader("dior").iter_images(root))
    horizontal = list(get_reader("dior", boxes="horizontal").iter_images(root))
    for images in (oriented, horizontal):
        assert {im.image_id: len(im.objects) for im in images} == exp["objects_per_image"]
        assert {im.image_id: im.split for im in images} == exp["splits"]
        assert sum(o.difficult for im in images for o in im.objects) == exp["difficult"]
        assert all((im.width, im.height) == exp["size"] for im in images)
    assert horizontal[0].objects[0].polygon == ((5, 6), (30, 6), (30, 20), (5, 20))
    assert oriented[0].objects[0].polygon == ((6, 6), (30, 6), (29, 20), (5, 20))
    assert oriented[0].annotation_path.parent.name == "Oriented Bounding Boxes"
    assert oriented[0].objects[1].label == "Expressway-Service-area"
    assert oriented[2].annotation_path is not None and oriented[2].objects == ()


def test_malformed_xml_and_object(tmp_path: Path) -> None:
    root = dior_fixture.make(tmp_path)
    xml = root / "Annotations" / "Oriented Bounding Boxes" / "00002.xml"
    xml.write_text(xml.read_text().replace("<x_right_top>20</x_right_top>", "<x_right_top>2O</x_right_top>"))
    where = r"00002.xml:1: object 1 \(storagetank\): <robndbox/x_right_top>"
    with pytest.raises(AnnotationParseError, match=where):
        list(get_reader("dior").iter_images(root))
    images = {im.image_id: im for im in get_reader("dior").iter_images(root, "skip")}
    assert images["00002"].objects == () and images["00002"].rejected[0].line == 1
    xml.write_text("<annotation><object><name>ship</name>")
    with pytest.raises(AnnotationParseError, match="invalid XML"):
        list(get_reader("dior").iter_images(root))
    images = {im.image_id: im for im in get_reader("dior").iter_images(root, "skip")}
    assert images["00002"].rejected[0].reason == "malformed_file" and len(images["00001"].objects) == 2


@pytest.mark.fixtures
def test_real_dior_r_00001(shared_fixtures: Path) -> None:
    (img,) = get_reader("dior").iter_images(shared_fixtures / "mmrotate" / "tests" / "data" / "dior")
    assert (img.image_id, img.width, img.height) == ("00001", 800, 800)
    (golf,) = img.objects
    assert golf.label == "golffield" and golf.polygon == ((133, 237), (684, 237), (684, 672), (133, 672))


@pytest.mark.fixtures
def test_real_torchgeo_dior_tree(shared_fixtures: Path) -> None:
    images = list(get_reader("dior").iter_images(shared_fixtures / "torchgeo" / "tests" / "data" / "dior"))
    counts = {im.image_id: (im.split, len(im.objects)) for im in images}
    # test images share ids with trainval ones but have no annotations: they must not borrow them
    assert counts["test_000000"] == ("test", 0) and counts["trainval_000000"] == ("trainval", 3)
    assert len(images) == 8 and sum(n for _, n in counts.values()) == 15
