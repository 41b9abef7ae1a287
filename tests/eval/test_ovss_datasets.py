"""OVSS dataset specs and loaders on generated trees in each real layout, plus the real fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from farslip_eval.ovss import (
    BUILTIN_SPECS,
    ISAID_PALETTE,
    DatasetNotFoundError,
    OvssDataError,
    OvssDataset,
    OvssSpec,
    SpecError,
    get_spec,
    read_image,
)
from farslip_eval.templates import ClassFileError

FIXTURE_CLASS_FILES = {
    "openearthmap": "cls_openearthmap.txt", "loveda": "cls_loveda.txt", "potsdam": "cls_potsdam.txt",
    "vaihingen": "cls_vaihingen.txt", "udd5": "cls_udd5.txt", "vdd": "cls_vdd.txt", "uavid": "cls_uavid.txt",
    "isaid": "cls_iSAID.txt",
}


def _save(arr: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".jpg": "JPEG", ".tif": "TIFF", ".png": "PNG"}[path.suffix.lower()]
    Image.fromarray(arr).save(path, format=fmt)


def make_tree(root: Path, spec: OvssSpec, n: int = 2, size: tuple[int, int] = (20, 30), seed: int = 0) -> list[np.ndarray]:
    """Write ``n`` image/label pairs in ``spec``'s layout; return the expected class-id maps."""
    rng = np.random.default_rng(seed)
    c = spec.num_classes
    expected = []
    for i in range(n):
        img = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
        ids = rng.integers(0, c, size).astype(np.int64)
        ids[0, 0] = 255  # one ignored pixel
        if spec.reduce_zero_label:
            raw = np.where(ids == 255, 0, ids + 1).astype(np.uint8)
        else:
            raw = ids.astype(np.uint8)
        _save(img, spec.image_dir(root) / f"tile_{i}{spec.img_suffix}")
        _save(raw, spec.label_dir(root) / f"tile_{i}{spec.seg_map_suffix}")
        expected.append(ids)
    return expected


def test_eight_builtin_datasets_with_paper_settings() -> None:
    assert list(BUILTIN_SPECS) == ["openearthmap", "loveda", "potsdam", "vaihingen", "udd5", "vdd", "uavid", "isaid"]
    thd = {n: (s.prob_thd, s.bg_idx) for n, s in BUILTIN_SPECS.items()}
    assert thd == {"openearthmap": (0.1, 0), "loveda": (0.3, 0), "potsdam": (0.1, 5), "vaihingen": (0.1, 5),
                   "udd5": (0.4, 4), "vdd": (0.3, 0), "uavid": (0.3, 0), "isaid": (0.4, 0)}
    assert {n for n, s in BUILTIN_SPECS.items() if s.reduce_zero_label} == {"loveda", "potsdam", "vaihingen"}
    for spec in BUILTIN_SPECS.values():
        assert (spec.fit_size, spec.window, spec.stride, spec.logit_scale) == (448, 224, 112, 50.0)
        assert spec.cls_token_lambda == 0.0 and spec.ignore_index == 255
    counts = {n: s.num_classes for n, s in BUILTIN_SPECS.items()}
    assert counts == {"openearthmap": 9, "loveda": 7, "potsdam": 6, "vaihingen": 6, "udd5": 5, "vdd": 7,
                      "uavid": 7, "isaid": 16}
    assert get_spec("iSAID") is BUILTIN_SPECS["isaid"]
    with pytest.raises(KeyError, match="known"):
        get_spec("cityscapes")


@pytest.mark.parametrize("name", list(FIXTURE_CLASS_FILES))
def test_shipped_class_files_equal_the_reference(name: str, shared_fixtures: Path) -> None:
    from importlib import resources

    spec = BUILTIN_SPECS[name]
    shipped = resources.files("farslip_eval.ovss").joinpath("classes", spec.class_file).read_bytes()
    reference = (shared_fixtures / "segearth_ov/configs" / FIXTURE_CLASS_FILES[name]).read_bytes()
    assert shipped == reference


@pytest.mark.parametrize("name", list(BUILTIN_SPECS))
def test_each_layout_loads_from_a_generated_tree(name: str, tmp_path: Path) -> None:
    spec = BUILTIN_SPECS[name]
    assert not spec.is_present(tmp_path)
    expected = make_tree(tmp_path, spec)
    assert spec.is_present(tmp_path)
    assert spec.dataset_dir(tmp_path) == tmp_path / spec.folder
    ds = OvssDataset(spec, tmp_path)
    samples = list(ds)
    assert [s.name for s in samples] == ["tile_0", "tile_1"]
    for sample, ids in zip(samples, expected):
        assert sample.image.shape == (20, 30, 3) and sample.image.dtype == np.uint8
        np.testing.assert_array_equal(sample.label, ids)
    assert not ds.skipped


def test_missing_dataset_names_the_expected_layout(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match=r"LoveDA/img_dir/val"):
        OvssDataset(get_spec("loveda"), tmp_path)


def test_missing_label_is_an_error_or_a_counted_skip(tmp_path: Path) -> None:
    spec = get_spec("uavid")
    make_tree(tmp_path, spec, n=3)
    (spec.label_dir(tmp_path) / "tile_1.png").unlink()
    with pytest.raises(OvssDataError, match=r"tile_1\.png.*no label file"):
        OvssDataset(spec, tmp_path)
    ds = OvssDataset(spec, tmp_path, on_bad="skip")
    assert len(ds) == 2 and ds.skipped["missing_label"] == 1


def test_label_without_image_is_counted(tmp_path: Path) -> None:
    spec = get_spec("vdd")
    make_tree(tmp_path, spec, n=1)
    _save(np.zeros((4, 4), np.uint8), spec.label_dir(tmp_path) / "stray.png")
    assert OvssDataset(spec, tmp_path).skipped["label_without_image"] == 1


def test_label_value_outside_the_class_list(tmp_path: Path) -> None:
    spec = get_spec("udd5")  # 5 classes, no reduce_zero_label
    make_tree(tmp_path, spec, n=1)
    bad = np.full((20, 30), 1, np.uint8)
    bad[3, 3] = 7
    _save(bad, spec.label_dir(tmp_path) / "tile_0.png")
    ds = OvssDataset(spec, tmp_path)
    with pytest.raises(OvssDataError, match=r"tile_0\.png: label values \[7\]"):
        ds.load(0)
    ds = OvssDataset(spec, tmp_path, on_bad="skip")
    assert list(ds) == [] and ds.skipped["label_out_of_range"] == 1


def test_reduce_zero_label_reports_stored_values(tmp_path: Path) -> None:
    spec = get_spec("loveda")  # 7 classes stored as 1..7
    make_tree(tmp_path, spec, n=1)
    bad = np.full((20, 30), 8, np.uint8)
    _save(bad, spec.label_dir(tmp_path) / "tile_0.png")
    with pytest.raises(OvssDataError, match=r"label values \[8\] \(as stored\)"):
        OvssDataset(spec, tmp_path).load(0)


def test_size_mismatch_and_undecodable_image(tmp_path: Path) -> None:
    spec = get_spec("potsdam")
    make_tree(tmp_path, spec, n=2)
    _save(np.ones((10, 10), np.uint8), spec.label_dir(tmp_path) / "tile_0.png")
    (spec.image_dir(tmp_path) / "tile_1.png").write_bytes(b"not a png")
    ds = OvssDataset(spec, tmp_path)
    with pytest.raises(OvssDataError, match="does not match image tile_0.png"):
        ds.load(0)
    with pytest.raises(OvssDataError, match=r"tile_1\.png: cannot decode"):
        ds.load(1)
    ds = OvssDataset(spec, tmp_path, on_bad="skip")
    assert list(ds) == []
    assert dict(ds.skipped) == {"size_mismatch": 1, "undecodable": 1}


def test_colour_label_without_palette_is_rejected(tmp_path: Path) -> None:
    spec = get_spec("vaihingen")
    make_tree(tmp_path, spec, n=1)
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[..., 0] = 255
    _save(rgb, spec.label_dir(tmp_path) / "tile_0.png")
    with pytest.raises(OvssDataError, match="single-channel"):
        OvssDataset(spec, tmp_path).load(0)


def test_isaid_colour_masks_are_decoded_with_the_palette(tmp_path: Path) -> None:
    spec = get_spec("isaid")
    make_tree(tmp_path, spec, n=1)
    ids = np.arange(16).repeat(2).reshape(4, 8)
    rgb = np.array(ISAID_PALETTE, np.uint8)[ids]
    _save(rgb, spec.label_dir(tmp_path) / "tile_0_instance_color_RGB.png")
    _save(np.zeros((4, 8, 3), np.uint8), spec.image_dir(tmp_path) / "tile_0.png")
    np.testing.assert_array_equal(OvssDataset(spec, tmp_path).load(0).label, ids)
    rgb[0, 0] = (9, 9, 9)
    _save(rgb, spec.label_dir(tmp_path) / "tile_0_instance_color_RGB.png")
    with pytest.raises(OvssDataError, match=r"outside the dataset palette.*\(9, 9, 9\)"):
        OvssDataset(spec, tmp_path).load(0)


def test_real_isaid_val_image_and_colour_mask(shared_fixtures: Path, tmp_path: Path) -> None:
    src = shared_fixtures / "isaid_devkit/preprocess/dataset/iSAID/val/images"
    spec = get_spec("isaid")
    spec.image_dir(tmp_path).mkdir(parents=True)
    spec.label_dir(tmp_path).mkdir(parents=True)
    (spec.image_dir(tmp_path) / "P0004.png").symlink_to(src / "P0004.png")
    (spec.label_dir(tmp_path) / "P0004_instance_color_RGB.png").symlink_to(src / "P0004_instance_color_RGB.png")
    sample = OvssDataset(spec, tmp_path).load(0)
    assert sample.image.shape == (1464, 824, 3)  # 824 wide, 1464 high
    counts = np.bincount(sample.label.ravel(), minlength=16)
    names = [c[0] for c in spec.class_names()]
    assert counts[0] == 994_724
    assert counts[names.index("small vehicle")] == 12_830
    assert counts[names.index("large vehicle")] == 198_782


def test_real_openearthmap_demo_tile_through_the_loader(shared_fixtures: Path, tmp_path: Path) -> None:
    demo = shared_fixtures / "segearth_ov/demo/oem_koeln_50.tif"
    image = read_image(demo)
    assert image.shape == (1000, 1000, 3) and image.dtype == np.uint8 and image.std() > 5
    spec = get_spec("openearthmap")
    spec.image_dir(tmp_path).mkdir(parents=True)
    (spec.image_dir(tmp_path) / "koeln_50.tif").symlink_to(demo)
    _save(np.full((1000, 1000), 8, np.uint8), spec.label_dir(tmp_path) / "koeln_50.tif")  # "building"
    sample = OvssDataset(spec, tmp_path).load(0)
    np.testing.assert_array_equal(sample.image, image)
    assert sample.label.shape == (1000, 1000) and int(sample.label.max()) == 8


def test_custom_descriptor(tmp_path: Path) -> None:
    folder = tmp_path / "synth_landcover"
    (folder / "classes.txt").parent.mkdir(parents=True)
    (folder / "classes.txt").write_text("background\nbuilding,roof\nwater", encoding="utf-8")
    desc = {"suite": "ovss", "name": "synth_landcover", "img_dir": "img_dir/val", "ann_dir": "ann_dir/val",
            "img_suffix": ".png", "seg_map_suffix": ".png", "class_file": "classes.txt",
            "reduce_zero_label": False, "ignore_index": 255, "bg_idx": None, "prob_thd": 0.0,
            "fit_size": 128, "window": 64, "stride": 32}
    (folder / "farslip_dataset.json").write_text(json.dumps(desc), encoding="utf-8")
    spec = OvssSpec.from_descriptor(json.loads((folder / "farslip_dataset.json").read_text()), base_dir=folder)
    assert spec.dataset_dir("/elsewhere") == folder
    assert spec.class_names() == [("background",), ("building", "roof"), ("water",)]
    assert (spec.fit_size, spec.window, spec.stride, spec.bg_idx) == (128, 64, 32, None)
    expected = make_tree(tmp_path, spec, n=1)
    np.testing.assert_array_equal(OvssDataset(spec).load(0).label, expected[0])
    with pytest.raises(SpecError, match="unknown keys"):
        OvssSpec.from_descriptor({**desc, "windw": 3}, base_dir=folder)
    with pytest.raises(SpecError, match="missing keys"):
        OvssSpec.from_descriptor({"suite": "ovss", "name": "x"}, base_dir=folder)
    (folder / "classes.txt").write_text("background\n\nwater", encoding="utf-8")
    with pytest.raises(ClassFileError, match=r"classes\.txt:2"):
        OvssDataset(spec)
