"""DOTA labelTxt reader: generated tree, edge cases and the real DOTA/mmrotate/torchgeo samples."""

from __future__ import annotations

from pathlib import Path

import pytest

from mgrs_builder.errors import AnnotationParseError, SourceNotFoundError
from mgrs_builder.sources import get_reader
from mgrs_builder.sources.dota import parse_dota_label_file
from tests.builder.fixtures import dota as dota_fixture


def _flat(tmp_path: Path, text: str, name: str = "X0001") -> Path:
    (tmp_path / "images").mkdir()
    (tmp_path / "labelTxt").mkdir()
    from PIL import Image

    Image.new("RGB", (32, 32)).save(tmp_path / "images" / f"{name}.png")
    (tmp_path / "labelTxt" / f"{name}.txt").write_text(text)
    return tmp_path


def test_generated_tree_exact_counts(tmp_path: Path) -> None:
    root = dota_fixture.make(tmp_path)
    images = list(get_reader("dota").iter_images(root))
    exp = dota_fixture.EXPECTED
    assert [im.image_id for im in images] == sorted(exp["objects_per_image"])
    assert {im.image_id: len(im.objects) for im in images} == exp["objects_per_image"]
    assert {im.image_id: im.split for im in images} == exp["splits"]
    assert {im.image_id: im.gsd for im in images} == exp["gsd"]
    assert sum(o.difficult for im in images for o in im.objects) == exp["difficult"]
    by_id = {im.image_id: im for im in images}
    assert by_id["P0004"].annotation_path is None and by_id["P0004"].objects == ()
    assert by_id["P0003"].annotation_path is not None and by_id["P0003"].objects == ()
    assert (by_id["P0001"].width, by_id["P0001"].height) == (128, 96)
    assert by_id["P0001"].meta["imagesource"] == "GoogleEarth"
    assert by_id["P0002"].objects[1].attributes["difficulty"] == "2"
    assert all(len(o.polygon) == 4 for im in images for o in im.objects)


def test_exact_coordinates_and_optional_difficult(tmp_path: Path) -> None:
    text = "imagesource:GF\ngsd:null\n1 2 3 4 5 6 7.5 8 plane\n10 10 20 10 20 20 10 20 ship 1\n"
    root = _flat(tmp_path, text)
    (img,) = get_reader("dota").iter_images(root)
    assert img.gsd is None and img.meta == {"imagesource": "GF"}
    first, second = img.objects
    assert first.polygon == ((1, 2), (3, 4), (5, 6), (7.5, 8)) and first.label == "plane"
    assert not first.difficult and first.line == 3
    assert second.difficult and second.line == 4


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("1 2 3 4 5 6 7 8", "8 fields"),
        ("1 2 3 4 5 6 7 x plane 0", "non-numeric"),
        ("1 2 3 4 5 6 7 8 plane yes", "difficult flag"),
        ("1 2 3 4 5 6 7 8 plane 0 extra", "11 fields"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    root = _flat(tmp_path, f"imagesource:GF\ngsd:1\n1 1 2 1 2 2 1 2 plane 0\n{line}\n")
    with pytest.raises(AnnotationParseError) as err:
        list(get_reader("dota").iter_images(root))
    assert err.value.line == 4 and err.value.path.endswith("X0001.txt")
    assert problem in str(err.value) and "X0001.txt:4" in str(err.value)
    (img,) = get_reader("dota").iter_images(root, on_bad_record="skip")
    assert len(img.objects) == 1
    (rej,) = img.rejected
    assert rej.reason == "malformed" and rej.line == 4 and problem in rej.detail


def test_empty_file_and_missing_root(tmp_path: Path) -> None:
    root = _flat(tmp_path, "")
    (img,) = get_reader("dota").iter_images(root)
    assert img.objects == () and img.rejected == () and img.annotation_path is not None
    with pytest.raises(SourceNotFoundError):
        list(get_reader("dota").iter_images(tmp_path / "nope"))


def test_torchgeo_version_layout(tmp_path: Path) -> None:
    for v, n in (("1.0", 1), ("2.0", 2)):
        d = tmp_path / "train" / "annotations" / f"version{v}"
        d.mkdir(parents=True)
        (d / "P0000.txt").write_text("".join(f"{i} 0 {i + 1} 0 {i + 1} 1 {i} 1 plane 0\n" for i in range(n)))
    from PIL import Image

    (tmp_path / "train" / "images").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "train" / "images" / "P0000.png")
    assert len(next(get_reader("dota").iter_images(tmp_path)).objects) == 2
    assert len(next(get_reader("dota", version="1.0").iter_images(tmp_path)).objects) == 1


@pytest.mark.fixtures
def test_real_dota_devkit_samples(shared_fixtures: Path) -> None:
    label_dir = shared_fixtures / "dota_devkit" / "example" / "labelTxt"
    sink, header = parse_dota_label_file(label_dir / "P0706.txt")
    assert len(sink.objects) == 536 and sum(o.difficult for o in sink.objects) == 6
    labels = [o.label for o in sink.objects]
    assert labels.count("ship") == 531 and labels.count("harbor") == 5
    sink, header = parse_dota_label_file(label_dir / "P1234.txt")
    assert len(sink.objects) == 144 and sum(o.difficult for o in sink.objects) == 44
    assert header == {"imagesource": "GF", "gsd": "1"}
    reader = get_reader("dota")
    images = {im.image_id: im for im in reader.iter_images(label_dir.parent, on_bad_record="skip")}
    assert (images["P0706"].width, images["P0706"].height) == (1111, 1182)
    assert images["P0706"].rejected == () and images["P1234"].gsd == 1.0
    # the other label files have no image in the snapshot: counted, not lost
    assert images["P1234"].rejected == ()
    with pytest.raises(SourceNotFoundError, match="P0770"):
        list(get_reader("dota").iter_images(label_dir.parent))


@pytest.mark.fixtures
def test_real_mmrotate_headerless_and_empty(shared_fixtures: Path) -> None:
    root = shared_fixtures / "mmrotate" / "tests" / "data"
    sink, header = parse_dota_label_file(root / "labelTxt" / "P0004__1__0___0.txt")
    assert header == {} and [o.label for o in sink.objects] == ["plane"] * 4
    sink, header = parse_dota_label_file(root / "labelTxt" / "P0004__1__0___1024.txt")
    assert sink.objects == [] and sink.rejected == [] and header == {}
    (tile,) = get_reader("dota").iter_images(root / "dota")
    assert tile.image_id == "P2805__1024__0___0" and len(tile.objects) == 4 and tile.width == 170


@pytest.mark.fixtures
def test_real_torchgeo_dota_tree(shared_fixtures: Path) -> None:
    root = shared_fixtures / "torchgeo" / "tests" / "data" / "dota"
    images = list(get_reader("dota", version="1.0").iter_images(root))
    assert [(im.image_id, im.split, len(im.objects)) for im in images] == [
        ("P0002", "train", 2),
        ("train_P0000", "train", 0),
        ("train_P0001", "train", 2),
        ("val_P0000", "val", 0),
        ("val_P0001", "val", 2),
    ]
    assert all(im.gsd == 1.0 and im.width == 64 for im in images)
