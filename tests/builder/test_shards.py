"""Atomic, size-capped shard writing, the manifest and its readers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from mgrs_builder.errors import SchemaMismatchError, SourceNotFoundError
from mgrs_builder.schema import arrow_schema, tile_key
from mgrs_builder.shards import ShardWriter, list_shards, read_manifest, sha256_file

CATS = [{"name": "plane", "id": 0, "parent": None}]


def _row(i: int, split: str = "train", payload: int = 1000) -> dict[str, Any]:
    window = [0, 0, 8, 8]
    return {
        "key": tile_key("src", f"img{i:03d}", tuple(window)), "source": "src", "source_image_id": f"img{i:03d}",
        "split": split, "image": {"bytes": bytes([i % 256]) * payload, "path": f"img{i:03d}.png"},
        "width": 8, "height": 8, "window": window, "gsd": None,
        "objects": [{"bbox": [1.0, 1.0, 3.0, 3.0], "polygon": [1.0, 1.0, 3.0, 1.0, 3.0, 3.0], "category": "plane",
                     "category_id": 0, "parent_category": None, "source_category": "plane", "truncated": False,
                     "difficult": False, "visible_fraction": 1.0}],
        "caption_short": "a", "caption_long": "b", "caption_backend": "template-v1", "caption_model": None,
    }


def _write(out: Path, n: int = 10, cap: int = 3000) -> dict[str, Any]:
    w = ShardWriter(out, max_shard_bytes=cap, row_group_rows=2)
    for i in range(n):
        w.add(_row(i, "train" if i % 5 else "val"))
    return w.finish(CATS)


def test_size_cap_names_counts_and_checksums(tmp_path: Path) -> None:
    manifest = _write(tmp_path / "ds")
    train = manifest["splits"]["train"]["shards"]
    assert [s["path"] for s in train] == [f"data/train-{i:05d}-of-00003.parquet" for i in range(3)]
    assert [s["rows"] for s in train] == [3, 3, 2]
    assert manifest["splits"]["val"]["rows"] == 2
    assert manifest["counts"]["by_category"] == {"plane": 10}
    assert manifest["counts"]["by_source_split"] == {"src/train": 8, "src/val": 2}
    for s in train:
        p = tmp_path / "ds" / s["path"]
        assert sha256_file(p) == s["sha256"] and p.stat().st_size == s["bytes"]
        schema = pq.read_schema(p)
        assert schema.remove_metadata().equals(arrow_schema().remove_metadata())
        assert schema.metadata[b"mgrs_schema_version"] == b"1" and b"huggingface" in schema.metadata
    assert not [p for p in (tmp_path / "ds" / "data").iterdir() if p.name.startswith(".")]  # no partial files
    assert read_manifest(tmp_path / "ds") == json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert [p.name for p in list_shards(tmp_path / "ds", "val")] == ["val-00000-of-00001.parquet"]


def test_output_is_deterministic_and_stale_shards_are_removed(tmp_path: Path) -> None:
    _write(tmp_path / "a")
    _write(tmp_path / "b", n=20, cap=1000)
    _write(tmp_path / "b")  # rewriting a folder removes the 20-row shards
    names_a = sorted(p.name for p in (tmp_path / "a" / "data").iterdir())
    assert names_a == sorted(p.name for p in (tmp_path / "b" / "data").iterdir())
    for name in names_a:
        assert (tmp_path / "a" / "data" / name).read_bytes() == (tmp_path / "b" / "data" / name).read_bytes()
    assert (tmp_path / "a" / "manifest.json").read_bytes() == (tmp_path / "b" / "manifest.json").read_bytes()


def test_manifest_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFoundError, match="no manifest"):
        read_manifest(tmp_path)
    _write(tmp_path / "ds")
    with pytest.raises(SourceNotFoundError, match="no split 'test'.*'train', 'val'"):
        list_shards(tmp_path / "ds", "test")
    m = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    m["schema_version"] = "0"
    (tmp_path / "ds" / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(SchemaMismatchError, match="schema version '0'"):
        read_manifest(tmp_path / "ds")
    (tmp_path / "empty").mkdir()
    ShardWriter(tmp_path / "empty").finish(CATS)
    with pytest.raises(SourceNotFoundError, match="no shards"):
        read_manifest(tmp_path / "empty")
