"""iSAID reader: masks (generated and the real P0004/P0005) and the COCO JSON layout."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from shapely.geometry import Polygon

from mgrs_builder.errors import AnnotationParseError
from mgrs_builder.sources import get_reader
from tests.builder.fixtures import isaid as isaid_fixture


def test_generated_masks_exact(tmp_path: Path) -> None:
    root = isaid_fixture.make(tmp_path)
    images = list(get_reader("isaid").iter_images(root))
    exp = isaid_fixture.EXPECTED
    assert {im.image_id: len(im.objects) for im in images} == exp["objects_per_image"]
    by_id = {im.image_id: im for im in images}
    p1 = by_id["P0001"]
    assert [o.label for o in p1.objects] == exp["labels"]["P0001"]
    assert {o.label: int(o.attributes["area_px"]) for o in p1.objects} == exp["areas"]
    vehicle = p1.objects[0]
    assert Polygon(vehicle.polygon).bounds == (4.0, 4.0, 10.0, 8.0)
    ship = p1.objects[2]
    assert ship.attributes["parts"] == "2" and ship.attributes["geometry"] == "convex_hull"
    assert Polygon(ship.polygon).bounds == exp["ship_hull_bounds"]
    assert by_id["P0002"].annotation_path is not None and by_id["P0002"].objects == ()
    assert by_id["P0003"].annotation_path is None
    assert (p1.width, p1.height, p1.split) == (96, 80, "train")


def test_unknown_colour_is_reported(tmp_path: Path) -> None:
    root = isaid_fixture.make(tmp_path)
    colour = root / "train" / "images" / "P0001_instance_color_RGB.png"
    arr = np.asarray(Image.open(colour)).copy()
    arr[0, 0] = (9, 9, 9)
    Image.fromarray(arr).save(colour)
    with pytest.raises(AnnotationParseError, match=r"colour \(9, 9, 9\) \(1 px\)") as err:
        list(get_reader("isaid").iter_images(root))
    assert "P0001_instance_color_RGB.png" in str(err.value)
    p1 = next(get_reader("isaid").iter_images(root, "skip"))
    assert [r.reason for r in p1.rejected] == ["unknown_colour"] and len(p1.objects) == 3


def _coco(tmp_path: Path, annotations: list[dict]) -> Path:
    split = tmp_path / "val"
    (split / "images").mkdir(parents=True)
    Image.new("RGB", (50, 40)).save(split / "images" / "P0009.png")
    Image.new("RGB", (50, 40)).save(split / "images" / "P0010.png")
    data = {
        "images": [{"id": 1, "file_name": "P0009.png", "width": 50, "height": 40},
                   {"id": 2, "file_name": "P0010.png", "width": 50, "height": 40}],
        "annotations": annotations,
        "categories": [{"id": 9, "name": "Small_Vehicle"}, {"id": 14, "name": "plane"}],
    }  # fmt: skip
    (split / "Annotations").mkdir()
    (split / "Annotations" / "iSAID_val.json").write_text(json.dumps(data))
    return tmp_path


def test_coco_json_layout(tmp_path: Path) -> None:
    root = _coco(tmp_path, [
        {"id": 1, "image_id": 1, "category_id": 9, "bbox": [1, 1, 4, 3],
         "segmentation": [[1, 1, 5, 1, 5, 4, 1, 4]]},
        {"id": 2, "image_id": 1, "category_id": 14, "bbox": [10, 10, 12, 12],
         "segmentation": [[10, 10, 12, 10, 12, 12], [20, 20, 22, 20, 22, 22]]},
    ])  # fmt: skip
    images = list(get_reader("isaid").iter_images(root))
    assert [(im.image_id, len(im.objects)) for im in images] == [("P0009", 2), ("P0010", 0)]
    car, plane = images[0].objects
    assert car.polygon == ((1, 1), (5, 1), (5, 4), (1, 4)) and car.label == "Small_Vehicle" and car.line == 1
    assert plane.attributes["parts"] == "2" and Polygon(plane.polygon).bounds == (10, 10, 22, 22)
    assert images[0].annotation_path is not None and images[0].annotation_path.name == "iSAID_val.json"


def test_coco_bad_record(tmp_path: Path) -> None:
    root = _coco(tmp_path, [
        {"id": 1, "image_id": 1, "category_id": 9, "bbox": [1, 1, 4, 3]},
        {"id": 2, "image_id": 1, "category_id": 77, "bbox": [1, 1, 4, 3]},
    ])  # fmt: skip
    with pytest.raises(AnnotationParseError, match=r"iSAID_val.json:2: category_id 77"):
        list(get_reader("isaid").iter_images(root))
    first = next(get_reader("isaid").iter_images(root, "skip"))
    assert len(first.objects) == 1 and first.rejected[0].line == 2 and first.rejected[0].reason == "malformed"


@pytest.mark.fixtures
def test_real_isaid_masks(shared_fixtures: Path) -> None:
    root = shared_fixtures / "isaid_devkit" / "preprocess" / "dataset" / "iSAID"
    images = {im.image_id: im for im in get_reader("isaid").iter_images(root)}
    assert sorted(images) == ["P0004", "P0005"]
    p4, p5 = images["P0004"], images["P0005"]
    assert (p4.split, p4.width, p4.height) == ("val", 824, 1464) and p5.split == "train"
    # per-class pixel areas add up to the palette counts measured in SOURCES.md
    for im, small, large in ((p4, 12830, 198782), (p5, 20325, 135058)):
        area = Counter()
        for o in im.objects:
            area[o.label] += int(o.attributes["area_px"])
        assert area == {"Small_Vehicle": small, "Large_Vehicle": large}
        assert im.rejected == ()
    assert Counter(o.label for o in p4.objects) == {"Large_Vehicle": 92, "Small_Vehicle": 24}
    assert len(p5.objects) == 131
