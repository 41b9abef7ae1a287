"""HRSC2016 reader: rotated-box corners, generated tree, the real 100000006.xml."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from shapely.geometry import Polygon

from mgrs_builder.errors import AnnotationParseError, SourceNotFoundError
from mgrs_builder.sources import get_reader
from mgrs_builder.sources.hrsc2016 import rotated_box_corners
from tests.builder.fixtures import hrsc2016 as hrsc_fixture


def test_rotated_box_corners() -> None:
    assert rotated_box_corners(10, 20, 8, 4, 0.0) == ((14, 22), (14, 18), (6, 18), (6, 22))
    quad = Polygon(rotated_box_corners(0, 0, 8, 4, math.pi / 2))
    assert quad.area == pytest.approx(32) and quad.bounds == pytest.approx((-2, -4, 2, 4))


def test_generated_tree(tmp_path: Path) -> None:
    root = hrsc_fixture.make(tmp_path)
    exp = hrsc_fixture.EXPECTED
    images = list(get_reader("hrsc2016").iter_images(root))
    assert {im.image_id: len(im.objects) for im in images} == exp["objects_per_image"]
    assert {im.image_id: im.split for im in images} == exp["splits"]
    assert sum(o.difficult for im in images for o in im.objects) == exp["difficult"]
    assert (images[0].width, images[0].height) == exp["size"]
    assert Polygon(images[0].objects[0].polygon).bounds == pytest.approx((20, 25, 60, 35))
    hbb = list(get_reader("hrsc2016", boxes="horizontal").iter_images(root))
    assert hbb[0].objects[1].polygon == ((56, 50), (64, 50), (64, 70), (56, 70))


def test_malformed_object(tmp_path: Path) -> None:
    root = hrsc_fixture.make(tmp_path)
    xml = root / "FullDataSet" / "Annotations" / "100000001.xml"
    xml.write_text(xml.read_text().replace("<mbox_w>20.0</mbox_w>", "<mbox_w></mbox_w>"))
    with pytest.raises(AnnotationParseError, match=r"100000001.xml:2: HRSC_Object 2: <mbox_w> missing"):
        list(get_reader("hrsc2016").iter_images(root))
    first = next(get_reader("hrsc2016").iter_images(root, "skip"))
    assert len(first.objects) == 1 and first.rejected[0].reason == "malformed"


@pytest.mark.fixtures
def test_real_hrsc_100000006(shared_fixtures: Path) -> None:
    root = shared_fixtures / "mmrotate" / "tests" / "data" / "hrsc"
    with pytest.raises(SourceNotFoundError, match="100000006"):  # the image is not in the snapshot
        list(get_reader("hrsc2016").iter_images(root))
    (img,) = get_reader("hrsc2016").iter_images(root, "skip")
    assert (img.width, img.height) == (1172, 816) and img.rejected == ()
    (ship,) = img.objects
    assert ship.label == "ship" and ship.attributes["Class_ID"] == "100000013"
    quad = Polygon(ship.polygon)
    assert quad.area == pytest.approx(778.4297 * 178.2595, rel=1e-6)
    assert quad.centroid.x == pytest.approx(341.2143) and quad.centroid.y == pytest.approx(443.3325)
    x1, y1, x2, y2 = quad.bounds  # the rotated box encloses the stated HBB (119, 75, 587, 789) loosely
    assert x1 < 119 + 30 and y1 < 75 + 30 and x2 > 587 - 30 and y2 > 789 - 30
