"""Leakage guard: built-in split rules, user id lists, pHash per scene and per tile; all reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from mgrs_builder.build import build_dataset
from mgrs_builder.errors import AnnotationParseError
from mgrs_builder.leakage import LeakageConfig, LeakageGuard, base_image_id, image_phash, load_id_list
from tests.builder.test_build import assert_accounting, noise


def test_builtin_rules_and_user_ids(tmp_path: Path) -> None:
    g = LeakageGuard(LeakageConfig(id_lists={"dior": frozenset({"00001"}), "*": frozenset({"P0042"})}))
    assert g.scene_rule("isaid", "P0004", "val") == "ovss_eval_split"
    assert g.scene_rule("loveda", "1", "test") == "ovss_eval_split"
    assert g.scene_rule("dota", "P0004", "val") == "isaid_eval_is_dota_eval"
    assert g.scene_rule("dota", "P0004", "train") is None
    assert g.scene_rule("dior", "00001", "train") == "user_ids"
    assert g.scene_rule("isaid", "P0042_0_800_0_800", "train") == "user_ids"  # patch of a listed scene
    assert LeakageGuard(LeakageConfig(builtin_rules=False)).scene_rule("isaid", "P0004", "val") is None
    assert base_image_id("P0002_0_800_0_800") == "P0002"


def test_id_list_file(tmp_path: Path) -> None:
    p = tmp_path / "ids.txt"
    p.write_text("# benchmark ids\ndota P0001\nP0002  # any source\n\n")
    assert load_id_list(p) == {"dota": frozenset({"P0001"}), "*": frozenset({"P0002"})}
    p.write_text("a b c\n")
    with pytest.raises(AnnotationParseError, match=r"ids\.txt:1: 3 fields"):
        load_id_list(p)


def test_flat_images_are_not_hashed() -> None:
    assert image_phash(Image.new("RGB", (32, 32), (9, 9, 9))) is None


def _dota_tree(root: Path) -> Path:
    for i, name in enumerate(["A", "B", "C"]):
        noise(root / "images" / f"{name}.png", 96, 64, seed=10 + i)
    (root / "labelTxt").mkdir(parents=True)
    for name in "ABC":
        (root / "labelTxt" / f"{name}.txt").write_text("10 10 30 10 30 30 10 30 plane 0\n")
    return root


def test_phash_drops_scenes_and_tiles_and_reports_them(tmp_path: Path) -> None:
    src = _dota_tree(tmp_path / "dota")
    bench = tmp_path / "bench"
    bench.mkdir()
    # a re-encoded copy of scene A (JPEG), and the first 64x64 tile of scene B
    Image.open(src / "images" / "A.png").convert("RGB").save(bench / "a.jpg", quality=90)
    Image.open(src / "images" / "B.png").crop((0, 0, 64, 64)).save(bench / "b_tile.png")
    ids = tmp_path / "ids.txt"
    ids.write_text("C\n")
    leakage = LeakageConfig(benchmark_dirs=(bench,), id_lists=load_id_list(ids))
    build_dataset(tmp_path / "out", {"dota": src}, tile_size=64, overlap=16, leakage=leakage, progress=False)
    rep = json.loads((tmp_path / "out" / "build_report.json").read_text())
    s = rep["sources"]["dota"]
    assert_accounting(rep)
    assert s["images_filtered"] == {"phash_scene": 1, "user_ids": 1}
    assert s["tiles_filtered"] == {"phash_tile": 1}
    assert s["objects_filtered"] == {"phash_scene": 1, "phash_tile": 1, "user_ids": 1}
    dropped = {(d["image_id"], d["rule"]) for d in s["dropped"]}
    assert dropped == {("A", "phash_scene"), ("B", "phash_tile"), ("C", "user_ids")}
    tile_drop = next(d for d in s["dropped"] if d["rule"] == "phash_tile")
    assert tile_drop["window"] == [0, 0, 64, 64] and tile_drop["match"].endswith("b_tile.png")
    assert s["tiles_written"] == 1  # B's second window only
