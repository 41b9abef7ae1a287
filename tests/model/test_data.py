"""Training data: rank/worker split, shuffling, resume position, the three readers, views, errors."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from farslip_model.collate import collate
from farslip_model.config import load_config
from farslip_model.data import TrainDataset, build_dataset
from farslip_model.sources import (
    MgrsJsonSource,
    ParquetSource,
    RawObject,
    RawRecord,
    WebDatasetSource,
    open_source,
)
from farslip_model.views import ViewConfig, ViewMaker
from mgrs_builder.errors import SchemaMismatchError, SourceNotFoundError
from tests.model.conftest import write_raw_shards

SIZES = [5, 7, 3, 6]  # 21 records over 4 shards of uneven size


def key_of(record: RawRecord, rng: np.random.Generator) -> str:
    return record.key


def keys_of(batch: list[str]) -> list[str]:
    return batch


def rank_stream(ds: TrainDataset, workers: int, batch: int = 2) -> list[str]:
    loader = DataLoader(ds, batch_size=batch, num_workers=workers, collate_fn=keys_of)
    return [k for b in loader for k in b]


@pytest.fixture(scope="module")
def raw_shards(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("raw_shards")
    keys = write_raw_shards(root, SIZES)
    return root, keys


@pytest.mark.parametrize("world", [1, 2, 3])
def test_split_covers_every_record_once(raw_shards: tuple[Path, list[str]], world: int) -> None:
    root, keys = raw_shards
    source = ParquetSource(root)
    assert source.shard_sizes == SIZES
    for epoch in (0, 1):
        streams = {}
        for workers in (0, 1, 2):
            seen: list[str] = []
            for rank in range(world):
                ds = TrainDataset(source, key_of, batch_size=2, rank=rank, world_size=world, seed=3)
                ds.set_epoch(epoch)
                stream = rank_stream(ds, workers)
                assert len(stream) == len(ds)
                streams.setdefault(rank, stream)
                assert stream == streams[rank], f"rank {rank}'s stream changed with {workers} workers"
                seen += stream
            assert sorted(seen) == sorted(keys), f"world {world}, workers {workers}: gaps or duplicates"


def test_shuffle_is_seeded_per_epoch(raw_shards: tuple[Path, list[str]]) -> None:
    root, keys = raw_shards
    source = ParquetSource(root)
    ds = TrainDataset(source, key_of, batch_size=4, seed=0)
    a0, a1 = ds.epoch_order(0), ds.epoch_order(1)
    assert sorted(a0.tolist()) == list(range(len(keys)))
    assert a0.tolist() != a1.tolist()
    assert TrainDataset(source, key_of, batch_size=4, seed=0).epoch_order(0).tolist() == a0.tolist()
    assert TrainDataset(source, key_of, batch_size=4, seed=1).epoch_order(0).tolist() != a0.tolist()
    plain = TrainDataset(source, key_of, batch_size=4, shuffle=False)
    assert rank_stream(plain, 0) == keys


@pytest.mark.parametrize(("world", "workers"), [(1, 0), (2, 2)])
def test_resume_position_continues_the_stream(
    raw_shards: tuple[Path, list[str]], world: int, workers: int
) -> None:
    root, _ = raw_shards
    source = ParquetSource(root)
    for rank in range(world):
        full = TrainDataset(source, key_of, batch_size=2, rank=rank, world_size=world, seed=5)
        full.set_epoch(2)
        stream = rank_stream(full, workers)
        first = TrainDataset(source, key_of, batch_size=2, rank=rank, world_size=world, seed=5)
        first.set_epoch(2)
        first.advance(4)  # two batches consumed on every rank
        state = first.state_dict()
        assert state["position"] == 4 * world and state["epoch"] == 2
        resumed = TrainDataset(source, key_of, batch_size=2, rank=rank, world_size=world, seed=5)
        resumed.load_state_dict(json.loads(json.dumps(state)))
        assert rank_stream(resumed, workers) == stream[4:]
    other = TrainDataset(source, key_of, batch_size=2, seed=6)
    with pytest.raises(ValueError, match="seed"):
        other.load_state_dict(state)


def test_max_samples_and_samples_per_rank(raw_shards: tuple[Path, list[str]]) -> None:
    root, keys = raw_shards
    ds = TrainDataset(ParquetSource(root), key_of, batch_size=2, max_samples=9, shuffle=False)
    assert rank_stream(ds, 0) == keys[:9]
    two_ranks = TrainDataset(ParquetSource(root), key_of, batch_size=2, rank=1, world_size=2)
    assert two_ranks.samples_per_rank == 10


def test_wrong_schema_version_names_the_file(tmp_path: Path) -> None:
    write_raw_shards(tmp_path, [2, 2])
    bad = tmp_path / "data" / "train-00001-of-00002.parquet"
    write_raw_shards(tmp_path / "v2", [2], version="2")
    (tmp_path / "v2" / "data" / "train-00000-of-00001.parquet").replace(bad)
    with pytest.raises(SchemaMismatchError) as err:
        ParquetSource(tmp_path)
    assert str(bad) in str(err.value) and "'2'" in str(err.value) and "expected '1'" in str(err.value)


def test_empty_or_missing_folders_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceNotFoundError, match=r"no Parquet shards for split 'train'"):
        open_source("parquet", tmp_path / "empty")
    with pytest.raises(SourceNotFoundError, match="no such shard folder"):
        open_source("parquet", tmp_path / "absent")
    with pytest.raises(SourceNotFoundError, match="no .tar files"):
        open_source("webdataset", tmp_path / "empty")
    with pytest.raises(SourceNotFoundError, match="text_info.json"):
        open_source("mgrs_json", tmp_path / "empty")
    with pytest.raises(SourceNotFoundError, match="no data path"):
        open_source("parquet", None)
    write_raw_shards(tmp_path / "zero", [0])
    with pytest.raises(SourceNotFoundError, match="hold no rows"):
        ParquetSource(tmp_path / "zero")


def _png(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def test_mgrs_json_layout(tmp_path: Path) -> None:
    (tmp_path / "global_imgs" / "sub").mkdir(parents=True)
    (tmp_path / "global_imgs" / "sub" / "a.png").write_bytes(_png((40, 30), (200, 0, 0)))
    records = [
        {
            "global_filepath": "sub/a.png",
            "brief_caption": "short a",
            "detailed_caption": "long a",
            "segment": [
                {"bbox": {"x1": 1, "y1": 2, "x2": 21, "y2": 22, "W": 40, "H": 30},
                 "category": "ship", "category_id": 3},
                {"bbox": {"x1": 0, "y1": 0, "x2": 10, "y2": 10, "W": 40, "H": 30},
                 "category": "x", "category_id": 9, "cap": "a red roof"},
            ],
        }
    ]
    (tmp_path / "text_info.json").write_text(json.dumps(records))
    source = MgrsJsonSource(tmp_path)
    (rec,) = source.read(0, [0])
    assert (rec.caption_short, rec.caption_long, rec.key) == ("short a", "long a", "sub/a.png")
    assert rec.objects[0] == RawObject((1.0, 2.0, 21.0, 22.0), "ship", 3)
    assert rec.objects[1].category_id == -1 and rec.objects[1].caption == "a red roof"
    assert rec.open_image().size == (40, 30)
    views = ViewMaker(ViewConfig(image_size=16, mean=(0, 0, 0), std=(1, 1, 1), mode="objects", caption="long",
                                 max_boxes=3, min_object_side=4, max_object_side=100))
    sample = views(rec, np.random.default_rng(0))
    assert sample["text"] == "long a" and sample["valid"].tolist() == [True, True, False]
    got = dict(zip(sample["region_texts"][:2], sample["labels"][:2].tolist(), strict=True))
    assert got == {"a satellite image of ship": 3, "a red roof": -1}
    (tmp_path / "text_info.json").write_text(json.dumps([{"brief_caption": "no path"}]))
    with pytest.raises(ValueError, match="text_info.json:0: record has no 'global_filepath'"):
        MgrsJsonSource(tmp_path)


def test_webdataset_tars(tmp_path: Path) -> None:
    def add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))

    with tarfile.open(tmp_path / "rs3-train-0000.tar", "w") as tf:
        add(tf, "000001.jpg", _png((20, 20), (0, 255, 0)))
        add(tf, "000001.txt", b"a green field")
        add(tf, "dir/000002.png", _png((24, 16), (0, 0, 255)))
        add(tf, "dir/000002.json", json.dumps({"caption": "blue water"}).encode())
        add(tf, "000003.txt", b"orphan caption")
    with tarfile.open(tmp_path / "rs3-train-0001.tar", "w") as tf:
        add(tf, "000004.png", _png((8, 8), (9, 9, 9)))
    source = WebDatasetSource(tmp_path)
    assert source.shard_sizes == [2, 0]
    assert dict(source.skipped) == {"no image (.jpg/.png/...)": 1, "no caption (.txt/.json)": 1}
    recs = source.read(0, [1, 0])
    got = [(r.key, r.caption_short) for r in recs]
    assert got == [("dir/000002", "blue water"), ("000001", "a green field")]
    assert recs[0].open_image().size == (24, 16)


def test_stage1_views_boxes_and_crops() -> None:
    img = Image.fromarray(np.arange(60 * 40 * 3, dtype=np.uint8).reshape(40, 60, 3) % 251, "RGB")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    rec = RawRecord("k", "test", "cap", None, (), image_bytes=buf.getvalue())
    maker = ViewMaker(ViewConfig(image_size=16, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), max_boxes=4))
    s = maker(rec, np.random.default_rng(1))
    assert s["image"].shape == (3, 16, 16) and s["crops"].shape == (4, 3, 16, 16) and s["valid"].all()
    boxes = s["boxes"]
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    assert ((area > 0.28) & (area < 0.72)).all(), area
    assert ((boxes >= 0) & (boxes <= 1)).all()
    ratio = (boxes[:, 2] - boxes[:, 0]) * 60 / ((boxes[:, 3] - boxes[:, 1]) * 40)
    assert ((ratio > 0.7) & (ratio < 1.4)).all(), ratio
    again = maker(rec, np.random.default_rng(1))
    assert torch.equal(again["crops"], s["crops"]) and s["text"] == "cap"


def test_stage2_area_rule_and_padding() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (200, 100), (10, 20, 30)).save(buf, format="PNG")
    objects = (
        RawObject((0, 0, 5, 5), "tiny", 1),  # area 25 < 8^2: dropped
        RawObject((10, 10, 30, 40), "car", 2),  # 600: kept
        RawObject((-20, -20, 210, 120), "field", 3),  # clipped to 200x100 = 20000 > 100^2: dropped
        RawObject((50, 50, 90, 90), "car", 2),  # 1600: kept
    )
    rec = RawRecord("k", "test", "s", "l", objects, image_bytes=buf.getvalue())
    cfg = ViewConfig(image_size=8, mean=(0, 0, 0), std=(1, 1, 1), mode="objects", max_boxes=3,
                     min_object_side=8, max_object_side=100, color_augment=True)
    s = ViewMaker(cfg)(rec, np.random.default_rng(0))
    assert s["valid"].tolist() == [True, True, False]
    assert s["labels"].tolist()[2] == -1 and s["region_texts"][2] == ""
    assert sorted(s["labels"].tolist()[:2]) == [2, 2]
    assert set(s["region_texts"][:2]) == {"a satellite image of car"}
    kept = sorted(tuple(round(v, 3) for v in b) for b in s["boxes"][:2].tolist())
    assert kept == [(0.05, 0.1, 0.15, 0.4), (0.25, 0.5, 0.45, 0.9)]
    batch = collate([s, s])
    assert batch["crops"].shape == (2, 3, 3, 8, 8) and batch["valid"].shape == (2, 3)
    assert len(batch["region_texts"]) == 2


def test_build_dataset_over_builder_shards(built_shards: Path) -> None:
    cfg = load_config("tiny-stage2", [f"data.path={built_shards}", "data.image_size=32"])
    ds = build_dataset(cfg.data, image_size=64, mean=(0.5,) * 3, std=(0.5,) * 3, seed=0)
    assert ds.num_records > 20
    batch = collate([next(iter(ds)) for _ in range(1)])
    assert batch["images"].shape == (1, 3, 32, 32) and batch["crops"].shape == (1, 4, 3, 32, 32)
    sample = next(iter(ds))
    assert sample["text"].startswith("An aerial image") and sample["index"] == int(ds.epoch_order(0)[0])
