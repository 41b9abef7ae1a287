"""Retrieval loaders (SkyScript CSV, Karpathy JSON, VT-RSBS CSV) and the two protocols."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from farslip_eval.dataset_errors import DatasetError
from farslip_eval.registry import discover
from farslip_eval.retrieval.datasets import (
    parse_sentence_list,
    read_karpathy_json,
    read_skyscript_retrieval_csv,
    read_vtrsbs_csv,
)
from farslip_eval.retrieval.protocol import FARSLIP_PREFIX, build_index


def _img(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (1, 2, 3)).save(path)


def _karpathy(folder: Path) -> Path:
    images = [
        {"filename": "a.jpg", "split": "test", "sentences": [{"raw": "a lake"}, {"raw": "two ships"}]},
        {"filename": "b.jpg", "split": "test", "sentences": [{"raw": "a lake"}, {"raw": "a road "}]},
        {"filename": "c.jpg", "split": "train", "sentences": [{"raw": "ignored"}]},
    ]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dataset_rsicd.json").write_text(json.dumps({"images": images, "dataset": "rsicd"}))
    for name in ("a.jpg", "b.jpg"):
        _img(folder / "images" / name)
    return folder


def test_karpathy_json_and_both_protocols(tmp_path: Path) -> None:
    data = read_karpathy_json(_karpathy(tmp_path / "RSICD"))
    assert [i.path.name for i in data.items] == ["a.jpg", "b.jpg"] and data.num_captions == 4
    assert data.items[1].captions == ("a lake", "a road ")  # verbatim, trailing space kept
    fs = build_index(data, "farslip")
    assert fs.texts == [FARSLIP_PREFIX + t for t in ("a lake", "two ships", "a road ")]
    assert fs.positives.int().tolist() == [[1, 1], [1, 0], [0, 1]]  # merged "a lake" matches both images
    cb = build_index(data, "clip_benchmark")
    assert cb.texts == ["a lake", "two ships", "a lake", "a road "]
    assert cb.positives.int().tolist() == [[1, 0], [1, 0], [0, 1], [0, 1]]


def test_skyscript_retrieval_csv_groups_rows_per_image(tmp_path: Path) -> None:
    folder = tmp_path / "RSITMD"
    for name in ("x.jpg", "y.jpg"):
        _img(folder / "img" / name)
    (folder / "RSITMD_img_txt_pairs_test.csv").write_text(
        'filepath,title\nimg/x.jpg,"a port, with boats"\nimg/y.jpg,a field\nimg/x.jpg,many boats\n')
    data = read_skyscript_retrieval_csv(folder)
    got = [(i.path.name, i.captions) for i in data.items]
    assert got == [("x.jpg", ("a port, with boats", "many boats")), ("y.jpg", ("a field",))]
    (folder / "RSITMD_img_txt_pairs_test.csv").write_text("filepath,title\nimg/x.jpg,\n")
    with pytest.raises(DatasetError, match="line 2"):
        read_skyscript_retrieval_csv(folder)
    gb = "filepath,title\nimg/x.jpg,港口\n".encode("gb18030")
    (folder / "RSITMD_img_txt_pairs_test.csv").write_bytes(gb)
    with pytest.raises(DatasetError, match="not valid utf-8 text"):
        read_skyscript_retrieval_csv(folder)
    assert read_skyscript_retrieval_csv(folder, encoding="gb18030").items[0].captions == ("港口",)


def test_vtrsbs_csv_generated_and_literal_eval_only(tmp_path: Path) -> None:
    folder = tmp_path / "UCM-Captions"
    _img(folder / "images" / "1.tif")
    (folder / "UCM_captions.csv").write_text(
        ',filename,img_id,split,sent_id,sentence\n'
        '0,1.tif,0,test,"[0, 1]","[\'a farm\', \'a field\']"\n'
        '1,2.tif,1,train,"[2]","[\'x\']"\n')
    data = read_vtrsbs_csv(folder, csv_name="UCM_captions.csv")
    assert [(i.path.name, i.captions) for i in data.items] == [("1.tif", ("a farm", "a field"))]
    with pytest.raises(DatasetError, match="not a Python list literal"):
        parse_sentence_list("__import__('os').system('true')", folder / "UCM_captions.csv", "line 2")
    with pytest.raises(DatasetError, match="non-empty list"):
        parse_sentence_list("['ok', '']", folder / "UCM_captions.csv", "line 2")


def test_bad_karpathy_files_are_clear_errors(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "dataset_x.json").write_text("{not json")
    with pytest.raises(DatasetError, match="invalid JSON"):
        read_karpathy_json(folder)
    (folder / "dataset_x.json").write_text(json.dumps({"images": [{"filename": "a.jpg", "split": "test",
                                                                    "sentences": []}]}))
    with pytest.raises(DatasetError, match=r"images\[0\] a.jpg"):
        read_karpathy_json(folder)
    (folder / "dataset_x.json").write_text(json.dumps({"images": [{"filename": "a.jpg", "split": "test",
                                                                    "sentences": [{"raw": "x"}]}]}))
    with pytest.raises(DatasetError, match="1 of 1 images do not exist"):
        read_karpathy_json(folder)


def test_registry_picks_the_layout_present(tmp_path: Path) -> None:
    _karpathy(tmp_path / "RSICD")
    found = discover(tmp_path, "retrieval")
    assert [(d.entry.name, d.layout.layout) for d in found.found] == [("rsicd", "karpathy")]
    assert sorted(e.name for e in found.missing) == ["rsitmd", "ucm_captions"]


# ---- the shared fixtures -------------------------------------------------------------------------

@pytest.mark.parametrize(("folder", "csv_name", "images", "captions", "distinct"), [
    ("UCM", "UCM_captions.csv", 210, 1050, 378),
    ("RSITMD", "RSITMD.csv", 452, 2260, 2099),
])
def test_vt_rsbs_test_split_counts(shared_fixtures: Path, folder: str, csv_name: str, images: int,
                                   captions: int, distinct: int) -> None:
    data = read_vtrsbs_csv(shared_fixtures / "vt_rsbs" / "metadata" / folder, csv_name=csv_name,
                           check_files=False)
    assert len(data.items) == images and data.num_captions == captions
    fs = build_index(data, "farslip")
    assert len(fs.image_paths) == images and len(fs.texts) == distinct
    assert all(t.startswith(FARSLIP_PREFIX) for t in fs.texts)
    assert int(fs.positives.sum()) >= distinct  # a merged caption matches every image that carried it
    cb = build_index(data, "clip_benchmark")
    assert len(cb.texts) == captions and int(cb.positives.sum()) == captions


def test_torchgeo_skyscript_csvs(shared_fixtures: Path) -> None:
    folder = shared_fixtures / "torchgeo" / "tests" / "data" / "skyscript"
    data = read_skyscript_retrieval_csv(folder, split="test")
    assert [i.path.name for i in data.items] == ["w779523169_CH_18.jpg", "w602363451_US_21.jpg"]
    house = "a satellite image of a beautiful house I will never be able to afford"
    assert data.items[0].captions == (house,)
    multi = read_skyscript_retrieval_csv(folder, split="test", caption_column="title_multi_objects")
    assert multi.items[1].captions == ("a satellite image of a mall; surrounded by a parking lot",)
    val = read_skyscript_retrieval_csv(folder, split="val")
    assert [i.path.parent.name for i in val.items] == ["images4", "images5"]
