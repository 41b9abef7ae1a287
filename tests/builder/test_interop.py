"""FarSLIP MGRS-200k layout: export, import, round trip, foreign files and bad records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mgrs_builder.build import build_dataset
from mgrs_builder.errors import AnnotationParseError, SourceNotFoundError
from mgrs_builder.interop import export_farslip, import_farslip
from mgrs_builder.shards import iter_rows
from mgrs_builder.validate import validate_dataset
from tests.builder.test_build import make_sources, noise


def _rows(d: Path) -> dict[str, dict[str, Any]]:
    return {r["key"]: r for r in iter_rows(d)}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("interop")
    out = root / "built"
    build_dataset(out, make_sources(root / "src"), tile_size=64, overlap=16, progress=False)
    return out


def test_export_import_round_trip_gives_equal_records(built: Path, tmp_path: Path) -> None:
    res = export_farslip(built, tmp_path / "farslip", progress=False)
    info = json.loads((tmp_path / "farslip" / "text_info.json").read_text())
    assert isinstance(info, list) and len(info) == res.records
    rec = next(r for r in info if r["segment"])
    assert (tmp_path / "farslip" / "global_imgs" / rec["global_filepath"]).is_file()
    assert rec["brief_caption"] and rec["detailed_caption"]
    seg = rec["segment"][0]
    assert list(seg["bbox"]) == ["x1", "y1", "x2", "y2", "W", "H"]  # the order the reference loader reads
    assert isinstance(seg["category"], str) and isinstance(seg["category_id"], int)

    import_farslip(tmp_path / "farslip", tmp_path / "back", progress=False)
    assert validate_dataset(tmp_path / "back").ok
    original, back = _rows(built), _rows(tmp_path / "back")
    assert original.keys() == back.keys()
    for key, row in original.items():
        assert back[key] == row, key


def test_import_foreign_layout_with_defaults_and_region_captions(tmp_path: Path) -> None:
    src = tmp_path / "mgrs"
    noise(src / "global_imgs" / "a.png", 40, 30)
    noise(src / "global_imgs" / "sub" / "b.png", 20, 20, seed=1)
    (src / "text_info.json").write_text(json.dumps([
        {"global_filepath": "a.png", "brief_caption": "short", "detailed_caption": "long",
         "segment": [{"bbox": {"a": 1, "b": 2, "c": 11, "d": 12, "e": 40, "f": 30}, "category": "building",
                      "category_id": 3},
                     {"bbox": {"a": 1, "b": 2, "c": 5, "d": 6, "e": 40, "f": 30}, "category": "x", "category_id": -1,
                      "cap": "a red roof"}]},
        {"global_filepath": "sub/b.png", "global_caption": "only one caption", "segment": []},
    ]))
    report = import_farslip(src, tmp_path / "out", progress=False)
    s = report.sources["mgrs200k"]
    assert (s.objects_in, s.objects_kept, s.objects_rejected) == (2, 1, {"region_caption": 1})
    rows = _rows(tmp_path / "out")
    a = rows["mgrs200k__a__0_0_40_30"]
    assert a["objects"][0]["bbox"] == [1.0, 2.0, 11.0, 12.0] and a["objects"][0]["category_id"] == 3
    assert a["caption_backend"] == "imported" and a["window"] == [0, 0, 40, 30]
    b = rows["mgrs200k__sub/b__0_0_20_20"]
    assert b["caption_short"] == b["caption_long"] == "only one caption"
    assert validate_dataset(tmp_path / "out").ok


def test_import_bad_records(tmp_path: Path) -> None:
    src = tmp_path / "mgrs"
    noise(src / "global_imgs" / "a.png", 40, 30)
    good = {"global_filepath": "a.png", "brief_caption": "s", "detailed_caption": "l", "segment": []}
    outside = {**good, "segment": [{"bbox": [1, 2, 90, 12, 40, 30], "category": "ship", "category_id": 1}]}
    missing = {**good, "global_filepath": "nope.png"}
    (src / "text_info.json").write_text(json.dumps([good, outside, missing]))
    with pytest.raises(Exception, match=r"record 2: segment 0 bbox .* not inside the 40x30 image"):
        import_farslip(src, tmp_path / "o1", progress=False)
    report = import_farslip(src, tmp_path / "o2", on_bad_record="skip", progress=False)
    s = report.sources["mgrs200k"]
    assert s.images_skipped == {"image_missing": 1, "outside_image": 1} and s.tiles_written == 1
    (src / "text_info.json").write_text("[{]")
    with pytest.raises(AnnotationParseError, match=r"text_info\.json:1: invalid JSON"):
        import_farslip(src, tmp_path / "o3", progress=False)
    with pytest.raises(SourceNotFoundError, match="global_imgs"):
        import_farslip(tmp_path, tmp_path / "o4", progress=False)
