"""build_dataset end to end: three real readers in one run, bad input, accounting, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mgrs_builder.build import build_dataset, parse_source_spec
from mgrs_builder.errors import MgrsBuilderError, RecordValidationError, UnknownCategoryError
from mgrs_builder.shards import read_manifest
from mgrs_builder.validate import validate_dataset
from tests.builder.fixtures import dota, isaid, loveda

BUCKETS = ("objects_kept", "objects_dropped_by_tiling")
SMALL = {"tile_size": 64, "overlap": 16, "progress": False}


def make_sources(root: Path) -> dict[str, Path]:
    """Three real source trees (DOTA, iSAID, LoveDA) from the readers' fixture generators."""
    return {"dota": dota.make(root / "dota"), "isaid": isaid.make(root / "isaid"), "loveda": loveda.make(root / "loveda")}


def assert_accounting(report: dict) -> None:
    """objects_in == kept + dropped_by_tiling + filtered + rejected, per source."""
    for name, s in report["sources"].items():
        total = sum(s[k] for k in BUCKETS) + sum(s["objects_filtered"].values()) + sum(s["objects_rejected"].values())
        assert s["objects_in"] == total, name


def noise(path: Path, w: int, h: int, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
    return path


def make_bad_dota(root: Path) -> Path:
    """A flat DOTA tree with every kind of bad record."""
    base = root / "dota_bad"
    noise(base / "images" / "A.png", 80, 80)
    (base / "labelTxt").mkdir(parents=True)
    (base / "labelTxt" / "A.txt").write_text("\n".join([
        "gsd:0.5",
        "30 30 50 30 50 50 30 50 plane 0",
        "nan 10 20 10 20 20 10 20 ship 0",
        "0 0 10 10 10 0 0 10 ship 0",  # bow tie
        "200 200 220 200 220 220 200 220 ship 1",  # outside the 80x80 image
        "10 10 20 10 20 20 10 20 zeppelin 0",  # unknown label
        "1 2 3",  # malformed line (the reader rejects it)
    ]) + "\n")
    png = noise(base / "images" / "B.png", 64, 64, seed=1).read_bytes()
    (base / "images" / "B.png").write_bytes(png[: len(png) // 2])  # truncated file
    (base / "labelTxt" / "B.txt").write_text("10 10 20 10 20 20 10 20 plane 0\n")
    noise(base / "images" / "C.png", 40, 40, seed=2)  # no label file at all
    (base / "labelTxt" / "D.txt").write_text("10 10 20 10 20 20 10 20 plane 0\n")  # no image
    noise(base / "images" / "E.png", 40, 40, seed=3)
    (base / "labelTxt" / "E.txt").write_text("")  # empty annotation file
    return base


def test_build_three_sources_validate_load_and_account(tmp_path: Path) -> None:
    import datasets

    sources = make_sources(tmp_path / "src")
    out = tmp_path / "out"
    report = build_dataset(out, sources, **SMALL)
    rep = json.loads((out / "build_report.json").read_text())
    assert set(rep["sources"]) == {"dota", "isaid", "loveda"}
    assert_accounting(rep)
    assert all(rep["sources"][n]["tiles_written"] > 0 and rep["sources"][n]["objects_kept"] > 0 for n in sources)
    assert rep["sources"]["dota"]["objects_filtered"] == {"isaid_eval_is_dota_eval": 1}  # DOTA val image P0005
    assert report.tiles_written == sum(s["tiles_written"] for s in rep["sources"].values())

    result = validate_dataset(out)
    assert result.ok, result.faults
    manifest = read_manifest(out)
    assert set(manifest["counts"]["by_source"]) == {"dota", "isaid", "loveda"}
    assert not (out / ".mgrs_work").exists()

    ds = datasets.load_dataset(str(out))
    n = manifest["splits"]["train"]["rows"]
    assert ds["train"].num_rows == n == result.rows
    row = ds["train"][0]
    assert row["image"].size == (row["width"], row["height"])
    files = [str(out / s["path"]) for s in manifest["splits"]["train"]["shards"]]
    ds2 = datasets.load_dataset("parquet", data_files={"train": files})
    assert ds2["train"].num_rows == n
    assert sorted(ds2["train"]["key"]) == sorted(ds["train"]["key"])
    kept_in_shards = sum(len(r) for r in ds2["train"]["objects"])
    assert kept_in_shards >= sum(s["objects_kept"] for s in rep["sources"].values())
    card = (out / "README.md").read_text()
    assert "configs:" in card and "path: data/train-*.parquet" in card and "CC BY-NC-SA 4.0" in card


def test_bad_records_are_counted_by_reason_in_skip_mode(tmp_path: Path) -> None:
    root = make_bad_dota(tmp_path)
    build_dataset(tmp_path / "out", {"dota": root}, on_bad_record="skip", **SMALL)
    rep = json.loads((tmp_path / "out" / "build_report.json").read_text())
    s = rep["sources"]["dota"]
    assert_accounting(rep)
    assert s["images_in"] == 5 and s["objects_kept"] == 1
    assert s["images_written"] == 3 and s["tiles_written"] == 4 + 1 + 1  # A (2x2 grid), C (no labels), E (empty)
    assert s["objects_rejected"] == {
        "corrupt_image": 1, "image_missing": 1, "malformed": 1, "nan_coordinates": 1,
        "outside_image": 1, "self_intersecting_polygon": 1, "unknown_category": 1,
    }
    assert s["images_skipped"] == {"corrupt_image": 1, "image_missing": 1}
    assert s["images_without_annotations"] == 1
    lines = {(r["reason"], r["line"]) for r in s["rejections"]}
    assert ("nan_coordinates", 3) in lines and ("malformed", 7) in lines and ("unknown_category", 6) in lines
    assert validate_dataset(tmp_path / "out").ok


@pytest.mark.parametrize(
    ("label_line", "error", "match"),
    [
        ("nan 10 20 10 20 20 10 20 ship 0", RecordValidationError, r"A\.txt:1: nan_coordinates"),
        ("0 0 10 10 10 0 0 10 ship 0", RecordValidationError, r"A\.txt:1: self_intersecting_polygon"),
        ("200 200 220 200 220 220 200 220 ship 0", RecordValidationError, r"A\.txt:1: outside_image"),
        ("10 10 20 10 20 20 10 20 zeppelin 0", UnknownCategoryError, r"'zeppelin' in .*A\.txt:1"),
    ],
)
def test_bad_records_raise_naming_file_and_line(tmp_path: Path, label_line: str, error: type, match: str) -> None:
    base = tmp_path / "d"
    noise(base / "images" / "A.png", 80, 80)
    (base / "labelTxt").mkdir(parents=True)
    (base / "labelTxt" / "A.txt").write_text(label_line + "\n")
    with pytest.raises(error, match=match):
        build_dataset(tmp_path / "out", {"dota": base}, **SMALL)


def test_corrupt_image_raises_in_error_mode(tmp_path: Path) -> None:
    base = tmp_path / "d"
    png = noise(base / "images" / "B.png", 64, 64).read_bytes()
    (base / "images" / "B.png").write_bytes(png[:100])
    with pytest.raises(RecordValidationError, match=r"B\.png: cannot decode"):
        build_dataset(tmp_path / "out", {"dota": base}, **SMALL)


def test_visible_area_rule_counts_dropped_by_tiling(tmp_path: Path) -> None:
    base = tmp_path / "d"
    noise(base / "images" / "A.png", 100, 64)
    (base / "labelTxt").mkdir(parents=True)
    # with 64 px tiles and no overlap, windows are x in [0, 64] and [36, 100]; this box is cut so that
    # less than 0.9 of it is in any window
    (base / "labelTxt" / "A.txt").write_text("20 10 80 10 80 30 20 30 bridge 0\n")
    build_dataset(tmp_path / "strict", {"dota": base}, tile_size=64, overlap=0, min_visible=0.9, progress=False)
    s = json.loads((tmp_path / "strict" / "build_report.json").read_text())["sources"]["dota"]
    assert s["objects_dropped_by_tiling"] == 1 and s["objects_kept"] == 0
    build_dataset(tmp_path / "loose", {"dota": base}, tile_size=64, overlap=0, min_visible=0.5, progress=False)
    s = json.loads((tmp_path / "loose" / "build_report.json").read_text())["sources"]["dota"]
    assert s["objects_kept"] == 1 and s["objects_dropped_by_tiling"] == 0


def test_workers_do_not_change_the_output(tmp_path: Path) -> None:
    sources = make_sources(tmp_path / "src")
    build_dataset(tmp_path / "one", sources, workers=1, **SMALL)
    build_dataset(tmp_path / "two", sources, workers=2, **SMALL)
    for rel in ["manifest.json", "build_report.json", "README.md"] + [
        f"data/{p.name}" for p in sorted((tmp_path / "one" / "data").iterdir())
    ]:
        assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes(), rel


def test_argument_errors(tmp_path: Path) -> None:
    assert parse_source_spec("dota:v1=/x") == ("dota:v1", Path("/x"))
    with pytest.raises(MgrsBuilderError, match="NAME=PATH"):
        parse_source_spec("dota")
    with pytest.raises(MgrsBuilderError, match="known readers"):
        build_dataset(tmp_path / "o", {"nosuch": tmp_path}, progress=False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_dataset(tmp_path / "o", {"dota": tmp_path / "missing"}, progress=False)
    with pytest.raises(MgrsBuilderError, match="on_bad_record"):
        build_dataset(tmp_path / "o", {"dota": tmp_path}, on_bad_record="warn", progress=False)  # type: ignore[arg-type]


@pytest.mark.fixtures
def test_real_dota_sample_with_default_tiling(shared_fixtures: Path, tmp_path: Path) -> None:
    root = shared_fixtures / "dota_devkit" / "example"
    if not (root / "images" / "P0706.png").is_file():
        pytest.skip(f"{root}/images/P0706.png absent from the shared fixtures")
    report = build_dataset(tmp_path / "out", {"dota": root}, on_bad_record="skip", progress=False)
    s = report.sources["dota"]
    rep = json.loads((tmp_path / "out" / "build_report.json").read_text())
    assert_accounting(rep)
    # P0706 (1111x1182) gives a 3x3 grid of 512 px tiles; the other label files have no image here
    assert s.tiles_written == 9 and s.images_skipped.get("image_missing", 0) == s.images_in - 1
    assert s.objects_kept + s.objects_dropped_by_tiling == 536 - sum(
        v for k, v in s.objects_rejected.items() if k != "image_missing")
    assert s.objects_kept > 500
    assert validate_dataset(tmp_path / "out").ok
