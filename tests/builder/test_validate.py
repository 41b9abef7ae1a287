"""validate_dataset finds each kind of fault and names the file and record."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mgrs_builder.build import build_dataset
from mgrs_builder.schema import arrow_schema
from mgrs_builder.shards import sha256_file
from mgrs_builder.validate import validate_dataset
from tests.builder.test_build import make_sources


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("validate")
    build_dataset(root / "out", make_sources(root / "src"), tile_size=64, overlap=16, progress=False)
    return root / "out"


@pytest.fixture
def copy(built: Path, tmp_path: Path) -> Path:
    shutil.copytree(built, tmp_path / "ds")
    return tmp_path / "ds"


def _rewrite_first_shard(ds: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    manifest = json.loads((ds / "manifest.json").read_text())
    entry = manifest["splits"]["train"]["shards"][0]
    path = ds / entry["path"]
    rows = pq.read_table(path).to_pylist()
    edit(rows)
    pq.write_table(pa.Table.from_pylist(rows, schema=arrow_schema()), path)
    entry["sha256"], entry["bytes"] = sha256_file(path), path.stat().st_size  # checksums stay consistent
    (ds / "manifest.json").write_text(json.dumps(manifest))
    return path


def test_valid_build_passes(built: Path) -> None:
    res = validate_dataset(built)
    assert res.ok and res.rows > 0 and res.objects > 0 and res.shards == 1


def test_box_outside_tile_is_a_fault(copy: Path) -> None:
    def edit(rows):  # type: ignore[no-untyped-def]
        row = next(r for r in rows if r["objects"])
        row["objects"][0]["bbox"] = [0.0, 0.0, row["width"] + 5.0, 3.0]

    _rewrite_first_shard(copy, edit)
    faults = validate_dataset(copy).faults
    assert len(faults) == 1 and "not inside the" in faults[0] and "train-00000-of-00001.parquet" in faults[0]


def test_key_and_duplicate_faults(copy: Path) -> None:
    def edit(rows):  # type: ignore[no-untyped-def]
        rows[0]["key"] = "wrong"
        rows[2]["key"] = rows[1]["key"]

    _rewrite_first_shard(copy, edit)
    faults = "\n".join(validate_dataset(copy).faults)
    assert "'wrong': key does not match" in faults and "duplicate key" in faults


def test_checksum_missing_and_unlisted_shards(copy: Path) -> None:
    shard = next((copy / "data").glob("*.parquet"))
    shutil.copy(shard, copy / "data" / "train-00009-of-00010.parquet")
    shard.write_bytes(shard.read_bytes() + b"x")
    faults = "\n".join(validate_dataset(copy).faults)
    assert "checksum or size differs" in faults and "not listed in the manifest" in faults
    shard.unlink()
    assert "listed in the manifest but missing" in "\n".join(validate_dataset(copy).faults)


def test_category_id_mismatch_and_missing_manifest(copy: Path, tmp_path: Path) -> None:
    manifest = json.loads((copy / "manifest.json").read_text())
    for c in manifest["categories"]:
        if c["name"] == "plane":
            c["id"] = 12345
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert any("'plane' has id 0, manifest says 12345" in f for f in validate_dataset(copy).faults)
    assert "no manifest" in validate_dataset(tmp_path / "nothing").faults[0]
