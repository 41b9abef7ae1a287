"""NWPU VHR-10 reader: ground-truth text lines, folder names with spaces, torchgeo's COCO layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from mgrs_builder.errors import AnnotationParseError
from mgrs_builder.sources import get_reader
from tests.builder.fixtures import nwpu_vhr10 as vhr_fixture


def test_generated_release_layout(tmp_path: Path) -> None:
    vhr_fixture.make(tmp_path)
    images = list(get_reader("nwpu_vhr10").iter_images(tmp_path))  # parent of "NWPU VHR-10 dataset" works too
    exp = vhr_fixture.EXPECTED
    assert {im.image_id: len(im.objects) for im in images} == exp["objects_per_image"]
    by_id = {im.image_id: im for im in images}
    pos = by_id["001"]
    assert [o.label for o in pos.objects] == exp["labels"] and pos.objects[0].polygon == exp["first_polygon"]
    assert by_id["negative_001"].annotation_path is None and by_id["negative_001"].meta == {"set": "negative"}
    assert by_id["002"].annotation_path is not None and by_id["002"].objects == ()


@pytest.mark.parametrize("line", ["(10,12),(30,25)", "(10,12),(30,25),11", "(a,12),(30,25),1"])
def test_malformed_line(tmp_path: Path, line: str) -> None:
    base = vhr_fixture.make(tmp_path)
    (base / "ground truth" / "002.txt").write_text(f"(1,1),(5,5),3\n\n{line}\n")
    with pytest.raises(AnnotationParseError) as err:
        list(get_reader("nwpu_vhr10").iter_images(base))
    assert err.value.line == 3 and err.value.path.endswith("002.txt")
    by_id = {im.image_id: im for im in get_reader("nwpu_vhr10").iter_images(base, "skip")}
    assert len(by_id["002"].objects) == 1 and by_id["002"].rejected[0].line == 3


@pytest.mark.fixtures
def test_real_torchgeo_vhr10_tree(shared_fixtures: Path) -> None:
    root = shared_fixtures / "torchgeo" / "tests" / "data" / "vhr10"
    images = list(get_reader("nwpu_vhr10").iter_images(root))
    assert len(images) == 10
    positive = [im for im in images if im.meta["set"] == "positive"]
    assert len(positive) == 5 and all(len(im.objects) == 1 for im in positive)
    assert positive[0].objects[0].polygon == ((4, 4), (6, 4), (6, 6), (4, 6))  # from bbox [4, 4, 2, 2]
    assert all(im.objects == () for im in images if im.meta["set"] == "negative")
