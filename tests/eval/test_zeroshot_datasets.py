"""Zero-shot classification loaders on generated trees in their real layouts and on the shared fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from farslip_eval.dataset_errors import DatasetError, DatasetNotFoundError
from farslip_eval.registry import discover
from farslip_eval.zeroshot.datasets import (
    prompt_name,
    read_class_folders,
    read_classnames,
    read_skyscript_csv,
)
from farslip_eval.zeroshot.images import load_rgb
from farslip_eval.zeroshot.prompts import SKYSCRIPT_TEMPLATES, resolve_templates

TORCHGEO = Path("torchgeo/tests/data")


def _img(path: Path, colour: tuple[int, int, int] = (10, 20, 30), size: int = 8) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), colour).save(path)


def _bundle(folder: Path, rows: list[tuple[str, str]], classes: str = "airport\nbeach\nforest\n",
            csv_name: str = "AID_test.csv") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "classnames.txt").write_text(classes)
    lines = ["filepath,label", *(f"{p},{lab}" for p, lab in rows)]
    (folder / csv_name).write_text("\n".join(lines) + "\n")
    for p, _ in rows:
        _img(folder / p)
    return folder


def test_skyscript_bundle_csv_with_index_and_name_labels(tmp_path: Path) -> None:
    rows = [("images/a.jpg", "0"), ("images/b.jpg", "2"), ("images/c.jpg", "beach")]
    folder = _bundle(tmp_path / "AID", rows)
    (folder / "AID_train.csv").write_text("filepath,label\nimages/a.jpg,1\n")  # another split, not picked
    data = read_skyscript_csv(folder, split="test")
    assert data.classnames == ["airport", "beach", "forest"]
    assert [(p.name, lab) for p, lab in data.samples] == [("a.jpg", 0), ("b.jpg", 2), ("c.jpg", 1)]
    assert data.layout == "skyscript_csv" and data.details["csv"] == "AID_test.csv"


@pytest.mark.parametrize(("row", "message"), [
    (("images/a.jpg", "7"), "outside the 3 classes"),
    (("images/a.jpg", "lake"), "neither a class id nor a name"),
])
def test_bundle_label_errors_name_the_line(tmp_path: Path, row: tuple[str, str], message: str) -> None:
    folder = _bundle(tmp_path / "AID", [("images/ok.jpg", "0"), row])
    with pytest.raises(DatasetError, match=message) as info:
        read_skyscript_csv(folder, split="test")
    assert "line 3" in str(info.value) and "AID_test.csv" in str(info.value)


def test_bundle_missing_images_empty_class_lines_and_bad_header(tmp_path: Path) -> None:
    folder = _bundle(tmp_path / "A", [("images/a.jpg", "0")])
    (folder / "AID_test.csv").write_text("filepath,label\nimages/a.jpg,0\nimages/gone.jpg,1\n")
    with pytest.raises(DatasetError, match="1 of 2 listed images do not exist"):
        read_skyscript_csv(folder, split="test")
    (folder / "classnames.txt").write_text("airport\n\nforest\n")
    with pytest.raises(DatasetError, match="line 2.*empty line"):
        read_classnames(folder / "classnames.txt")
    folder2 = _bundle(tmp_path / "B", [("x.jpg", "0")])
    (folder2 / "AID_test.csv").write_text("path,class\nx.jpg,0\n")
    with pytest.raises(DatasetError, match="expected columns 'filepath,label'"):
        read_skyscript_csv(folder2, split="test")
    (folder2 / "other.csv").write_text("filepath,label\n")
    with pytest.raises(DatasetNotFoundError, match="exactly one CSV for split 'val'"):
        read_skyscript_csv(folder2, split="val")


def test_folder_per_class_tree_with_split_file(tmp_path: Path) -> None:
    root = tmp_path / "NWPU-RESISC45"
    for cls in ("baseball_diamond", "airport"):
        for i in range(3):
            _img(root / cls / f"{cls}_{i:03d}.jpg")
    (root / "airport" / "notes.txt").write_text("not an image")
    (tmp_path / "split.txt").write_text("airport_000.jpg\nbaseball_diamond_002.jpg\n")
    data = read_class_folders(root)
    assert data.classnames == ["airport", "baseball diamond"] and len(data.samples) == 6
    assert data.details["skipped_non_images"] == 1
    split = read_class_folders(tmp_path, image_dir="NWPU-RESISC45", split_file="split.txt")
    got = [(p.name, lab) for p, lab in split.samples]
    assert got == [("airport_000.jpg", 0), ("baseball_diamond_002.jpg", 1)]
    (tmp_path / "bad_split.txt").write_text("airport_000.jpg\nmissing.jpg\n")
    with pytest.raises(DatasetError, match="1 listed files are not in any class folder"):
        read_class_folders(tmp_path, image_dir="NWPU-RESISC45", split_file="bad_split.txt")


def test_prompt_names_and_templates() -> None:
    assert prompt_name("AnnualCrop") == "annual crop"
    assert prompt_name("baseball_diamond") == "baseball diamond"
    assert prompt_name("HerbaceousVegetation") == "herbaceous vegetation"
    expected = ("a satellite photo of {c}.", "a satellite image of {c}")
    assert resolve_templates(None) == SKYSCRIPT_TEMPLATES == expected
    assert len(resolve_templates("imagenet80")) == 80
    with pytest.raises(ValueError, match="containing"):
        resolve_templates(["no placeholder"])


def test_eurosat_13_band_tif_becomes_rgb_and_bad_images_are_errors(tmp_path: Path) -> None:
    ms = np.zeros((4, 4, 13), dtype=np.uint16)
    ms[..., 3], ms[..., 2], ms[..., 1] = 3000, 1500, 6000  # B4 (red), B3 (green), B2 (blue)
    tifffile.imwrite(tmp_path / "Forest_1.tif", ms, photometric="minisblack", planarconfig="contig")
    rgb = np.asarray(load_rgb(tmp_path / "Forest_1.tif"))
    assert rgb.shape == (4, 4, 3) and rgb[0, 0].tolist() == [255, 127, 255]
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DatasetError, match="broken.jpg.*failed to decode"):
        load_rgb(tmp_path / "broken.jpg")
    tifffile.imwrite(tmp_path / "five.tif", np.zeros((4, 4, 5), dtype=np.uint16), photometric="minisblack",
                     planarconfig="contig")
    with pytest.raises(DatasetError, match="5 bands"):
        load_rgb(tmp_path / "five.tif")


def test_registry_finds_builtin_layouts_under_a_data_root(tmp_path: Path) -> None:
    for cls in ("agricultural", "airplane"):
        _img(tmp_path / "UCMerced_LandUse" / "Images" / cls / f"{cls}00.tif")
    _bundle(tmp_path / "fMoW", [("img/a.jpg", "0")], csv_name="fmow_val.csv")
    found = discover(tmp_path, "zeroshot")
    by_name = {d.entry.name: d for d in found.found}
    assert set(by_name) == {"ucm", "fmow"}
    assert by_name["ucm"].layout.layout == "folder" and by_name["ucm"].root.name == "Images"
    assert by_name["fmow"].layout.layout == "skyscript_csv"
    assert {"aid", "eurosat", "whu_rs19"} <= {e.name for e in found.missing}


# ---- the shared fixtures (torchgeo's synthetic trees in the real layouts) ---------------------------

def test_torchgeo_eurosat_13_band_tree(shared_fixtures: Path) -> None:
    root = shared_fixtures / TORCHGEO / "eurosat"
    data = read_class_folders(root, image_dir="ds/images/remote_sensing/otherDatasets/sentinel_2/tif",
                              split_file="eurosat-test.txt")
    assert data.classnames == ["annual crop", "forest"] and len(data.samples) == 2
    for path, _ in data.samples:
        img = load_rgb(path)
        assert img.mode == "RGB" and img.size == (64, 64)


@pytest.mark.parametrize(("folder", "image_dir", "split", "classes", "count"), [
    ("resisc45", "NWPU-RESISC45", "resisc45-test.txt", ["airplane", "airport", "baseball diamond"], 9),
    ("ucmerced", "UCMerced_LandUse/Images", "uc_merced-test.txt", ["agricultural", "airplane"], 4),
    ("patternnet", "PatternNet/images", None, ["airplane", "bridge"], 6),
])
def test_torchgeo_class_folder_trees(shared_fixtures: Path, folder: str, image_dir: str, split: str | None,
                                     classes: list[str], count: int) -> None:
    data = read_class_folders(shared_fixtures / TORCHGEO / folder, image_dir=image_dir, split_file=split)
    assert data.classnames == classes and len(data.samples) == count
    labels = sorted({lab for _, lab in data.samples})
    assert labels == list(range(len(classes)))
    assert load_rgb(data.samples[0][0]).mode == "RGB"


def test_torchgeo_trees_found_through_the_registry(shared_fixtures: Path) -> None:
    # torchgeo's resisc45/ folder holds NWPU-RESISC45/, which is the built-in folder name.
    found = discover(shared_fixtures / TORCHGEO / "resisc45", "zeroshot", ["resisc45"])
    assert [d.layout.layout for d in found.found] == ["folder"]
    found = discover(shared_fixtures / TORCHGEO / "ucmerced", "zeroshot", ["ucm"])
    assert len(found.found) == 1 and found.found[0].root.name == "Images"
