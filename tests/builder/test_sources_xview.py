"""xView reader: GeoJSON boxes, class table checked against the real class list, bad features."""

from __future__ import annotations

from pathlib import Path

import pytest

from mgrs_builder.errors import AnnotationParseError, SourceNotFoundError
from mgrs_builder.sources import get_reader
from mgrs_builder.sources.xview import XVIEW_CLASSES
from tests.builder.fixtures import xview as xview_fixture


def test_generated_tree(tmp_path: Path) -> None:
    root = xview_fixture.make(tmp_path)
    images = list(get_reader("xview").iter_images(root))
    exp = xview_fixture.EXPECTED
    assert {im.image_id: len(im.objects) for im in images} == exp["objects_per_image"]
    assert [o.label for o in images[0].objects] == exp["labels"]["10"]
    first = images[0].objects[0]
    assert first.polygon == exp["first_polygon"] and first.attributes == {"type_id": "18", "feature_id": "1"}
    assert first.line == 1 and images[0].split == "train" and images[2].objects == ()


def test_bad_features(tmp_path: Path) -> None:
    root = xview_fixture.make(tmp_path)
    feats = [
        xview_fixture.feature("10.tif", 18, "4,5,14,12", 1),
        xview_fixture.feature("10.tif", 75, "1,1,2,2", 2),  # an id outside the 60-class list
        xview_fixture.feature("10.tif", 73, "", 3),  # empty bounds
        xview_fixture.feature("99.tif", 73, "1,1,5,5", 4),  # image not present
    ]
    xview_fixture.write_geojson(root / "xView_train.geojson", feats)
    with pytest.raises(AnnotationParseError, match=r"xView_train.geojson:2: feature 2: type_id 75"):
        list(get_reader("xview").iter_images(root))
    images = {im.image_id: im for im in get_reader("xview").iter_images(root, "skip")}
    reasons = [(r.reason, r.line) for r in images["10"].rejected]
    assert reasons == [("unknown_type_id", 2), ("malformed", 3)] and len(images["10"].objects) == 1
    assert images["99"].rejected == () and len(images["99"].objects) == 1
    xview_fixture.write_geojson(root / "xView_train.geojson", feats[:1] + feats[3:])
    with pytest.raises(SourceNotFoundError, match="99.tif"):
        list(get_reader("xview").iter_images(root))


@pytest.mark.fixtures
def test_class_table_matches_xview_class_labels(shared_fixtures: Path) -> None:
    text = (shared_fixtures / "xview_data_utilities" / "xview_class_labels.txt").read_text()
    table = {int(k): v for k, v in (line.split(":", 1) for line in text.splitlines() if line.strip())}
    assert table == XVIEW_CLASSES and len(table) == 60 and min(table) == 11 and max(table) == 94
