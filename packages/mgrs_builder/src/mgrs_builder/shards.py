"""Atomic, size-capped Parquet shard writing and the manifest of a built folder.

Layout (docs/interfaces.md 1.3): ``DIR/data/{split}-{i:05d}-of-{n:05d}.parquet`` and
``DIR/manifest.json``. Shards are first written under a temporary name and renamed once complete,
so a killed build never leaves a shard that looks finished. Output is deterministic: the same rows
in the same order give byte-identical shards and manifest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from . import __version__
from .errors import SchemaMismatchError, SourceNotFoundError
from .schema import DATA_DIR, MANIFEST_NAME, SCHEMA_VERSION, SHARD_PATTERN, arrow_schema

logger = logging.getLogger(__name__)

#: Default shard size cap (bytes of row payload): small enough for resumable Hub uploads.
DEFAULT_MAX_SHARD_BYTES = 256 * 1024 * 1024
DEFAULT_ROW_GROUP_ROWS = 100
_PARTIAL_SUFFIX = ".partial"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON (trailing newline) atomically."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode())


def _row_bytes(row: Mapping[str, Any]) -> int:
    image = row.get("image") or {}
    return len(image.get("bytes") or b"") + 256 + 128 * len(row.get("objects") or ())


@dataclass
class ShardInfo:
    """One written shard, as listed in the manifest."""

    path: str
    rows: int
    sha256: str
    bytes: int


@dataclass
class _SplitWriter:
    data_dir: Path
    split: str
    max_bytes: int
    row_group_rows: int
    parts: list[tuple[Path, int]] = field(default_factory=list)
    _writer: pq.ParquetWriter | None = None
    _path: Path | None = None
    _rows_in_part: int = 0
    _bytes_in_part: int = 0
    _buffer: list[dict[str, Any]] = field(default_factory=list)

    def add(self, row: dict[str, Any]) -> None:
        if self._writer is None:
            self._open()
        self._buffer.append(row)
        self._rows_in_part += 1
        self._bytes_in_part += _row_bytes(row)
        if len(self._buffer) >= self.row_group_rows:
            self._flush()
        if self._bytes_in_part >= self.max_bytes:
            self._close_part()

    def _open(self) -> None:
        self._path = self.data_dir / f".{self.split}-{len(self.parts):05d}.parquet{_PARTIAL_SUFFIX}"
        self._writer = pq.ParquetWriter(self._path, arrow_schema(), compression="zstd")
        self._rows_in_part = 0
        self._bytes_in_part = 0

    def _flush(self) -> None:
        if self._buffer and self._writer is not None:
            self._writer.write_table(pa.Table.from_pylist(self._buffer, schema=arrow_schema()))
            self._buffer = []

    def _close_part(self) -> None:
        self._flush()
        if self._writer is not None and self._path is not None:
            self._writer.close()
            self.parts.append((self._path, self._rows_in_part))
        self._writer = None
        self._path = None

    def finish(self) -> list[ShardInfo]:
        self._close_part()
        n = len(self.parts)
        infos: list[ShardInfo] = []
        for i, (tmp, rows) in enumerate(self.parts):
            final = self.data_dir / SHARD_PATTERN.format(split=self.split, index=i, count=n)
            os.replace(tmp, final)
            infos.append(ShardInfo(f"{DATA_DIR}/{final.name}", rows, sha256_file(final), final.stat().st_size))
        return infos


class ShardWriter:
    """Write rows (dicts matching :func:`schema.arrow_schema`) into size-capped shards per split.

    Args:
        out_dir: the dataset folder; shards go to ``out_dir/data``. Stale shards are removed.
        max_shard_bytes: start a new shard once a shard's row payload reaches this size.
        row_group_rows: rows per Parquet row group.
    """

    def __init__(self, out_dir: Path, max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
                 row_group_rows: int = DEFAULT_ROW_GROUP_ROWS) -> None:
        if max_shard_bytes < 1:
            raise ValueError(f"max_shard_bytes must be positive, got {max_shard_bytes}")
        self.out_dir = Path(out_dir)
        self.data_dir = self.out_dir / DATA_DIR
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for stale in sorted(self.data_dir.glob("*.parquet")) + sorted(self.data_dir.glob(f".*{_PARTIAL_SUFFIX}")):
            stale.unlink()
        self.max_shard_bytes = max_shard_bytes
        self.row_group_rows = row_group_rows
        self._splits: dict[str, _SplitWriter] = {}
        self.by_source: Counter[str] = Counter()
        self.by_split: Counter[str] = Counter()
        self.by_category: Counter[str] = Counter()
        self.by_source_split: Counter[str] = Counter()
        self.objects = 0

    def add(self, row: dict[str, Any]) -> None:
        """Append one row to its split."""
        split = row["split"]
        if split not in self._splits:
            self._splits[split] = _SplitWriter(self.data_dir, split, self.max_shard_bytes, self.row_group_rows)
        self._splits[split].add(row)
        self.by_source[row["source"]] += 1
        self.by_split[split] += 1
        self.by_source_split[f"{row['source']}/{split}"] += 1
        for obj in row.get("objects") or ():
            self.by_category[obj["category"]] += 1
            self.objects += 1

    def finish(self, categories: Iterable[Mapping[str, Any]], extra: Mapping[str, Any] | None = None
               ) -> dict[str, Any]:
        """Close every shard, rename them to their final names and write ``manifest.json``."""
        splits: dict[str, Any] = {}
        for split in sorted(self._splits):
            infos = self._splits[split].finish()
            splits[split] = {"shards": [vars(i) for i in infos], "rows": sum(i.rows for i in infos)}
        manifest: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "builder_version": __version__,
            "splits": splits,
            "counts": {
                "rows": sum(self.by_split.values()),
                "objects": self.objects,
                "by_source": dict(sorted(self.by_source.items())),
                "by_split": dict(sorted(self.by_split.items())),
                "by_source_split": dict(sorted(self.by_source_split.items())),
                "by_category": dict(sorted(self.by_category.items())),
            },
            "categories": [dict(c) for c in categories],
        }
        if extra:
            manifest.update(extra)
        atomic_write_json(self.out_dir / MANIFEST_NAME, manifest)
        logger.info("wrote %d rows in %d splits to %s", manifest["counts"]["rows"], len(splits), self.out_dir)
        return manifest


def read_manifest(dataset_dir: Path | str) -> dict[str, Any]:
    """Read ``DIR/manifest.json``.

    Raises:
        SourceNotFoundError: the folder or its manifest is missing, or the manifest lists no shards.
        SchemaMismatchError: the shards were written with another schema version.
    """
    d = Path(dataset_dir)
    path = d / MANIFEST_NAME
    if not path.is_file():
        raise SourceNotFoundError(f"{path}: no manifest (expected a folder written by `mgrs build`)")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise SchemaMismatchError(f"{path}: not valid JSON ({err})") from err
    version = str(manifest.get("schema_version"))
    if version != SCHEMA_VERSION:
        raise SchemaMismatchError(f"{path}: schema version {version!r}, this mgrs_builder reads {SCHEMA_VERSION!r}")
    if not manifest.get("splits"):
        raise SourceNotFoundError(f"{path}: the manifest lists no shards (empty dataset)")
    return manifest


def list_shards(dataset_dir: Path | str, split: str = "train") -> list[Path]:
    """Paths of the shards of ``split``, in order.

    Raises:
        SourceNotFoundError: missing folder/manifest, unknown split (the message lists the splits).
    """
    d = Path(dataset_dir)
    manifest = read_manifest(d)
    if split not in manifest["splits"]:
        raise SourceNotFoundError(f"{d}: no split {split!r}; available: {sorted(manifest['splits'])}")
    return [d / s["path"] for s in manifest["splits"][split]["shards"]]


def iter_rows(dataset_dir: Path | str, split: str | None = None, columns: list[str] | None = None
              ) -> Iterable[dict[str, Any]]:
    """Yield the rows of one split (or all splits, sorted by name) as dicts."""
    manifest = read_manifest(dataset_dir)
    splits = [split] if split is not None else sorted(manifest["splits"])
    for s in splits:
        for shard in list_shards(dataset_dir, s):
            pf = pq.ParquetFile(shard)
            for batch in pf.iter_batches(batch_size=64, columns=columns):
                yield from batch.to_pylist()
