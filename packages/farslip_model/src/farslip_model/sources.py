"""Record sources for training: our Parquet shards, the released MGRS layout, RS5M-style tars.

Every source exposes its records as numbered shards (``shard_names``, ``shard_sizes``) and reads a
list of rows of one shard into :class:`RawRecord` values; shuffling and the rank/worker split live in
:mod:`farslip_model.data`.
"""

from __future__ import annotations

import io
import json
import logging
import tarfile
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from PIL import Image

from mgrs_builder.errors import AnnotationParseError, SchemaMismatchError, SourceNotFoundError
from mgrs_builder.schema import DATA_DIR, MANIFEST_NAME, SCHEMA_VERSION, SCHEMA_VERSION_KEY

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp")
CAPTION_JSON_KEYS = ("caption", "text", "title")
PARQUET_COLUMNS = ["key", "image", "width", "height", "objects", "caption_short", "caption_long"]


@dataclass(frozen=True)
class RawObject:
    """One annotated object: ``bbox`` is x1, y1, x2, y2 in source-image pixels.

    ``caption`` is a free-text region caption (MGRS ``cap``); such regions get label -1.
    """

    bbox: tuple[float, float, float, float]
    category: str
    category_id: int
    caption: str | None = None


@dataclass(frozen=True)
class RawRecord:
    """One training image with its captions and objects, image not yet decoded."""

    key: str
    origin: str  # the file it came from, for error messages
    caption_short: str | None
    caption_long: str | None
    objects: tuple[RawObject, ...] = ()
    image_bytes: bytes | None = field(default=None, repr=False)
    image_path: str | None = None

    def open_image(self) -> Image.Image:
        """Decode the image as RGB.

        Raises:
            ValueError: the bytes are not a readable image (names the record and its file).
        """
        try:
            if self.image_bytes is not None:
                img = Image.open(io.BytesIO(self.image_bytes))
            elif self.image_path is not None:
                img = Image.open(self.image_path)
            else:
                raise ValueError("no image bytes or path")
            return img.convert("RGB")
        except (OSError, ValueError) as err:
            raise ValueError(
                f"record {self.key!r} in {self.origin}: cannot decode its image ({err})"
            ) from err


class RecordSource(ABC):
    """Records grouped in shards; ``read`` returns rows of one shard in the order asked."""

    shard_names: list[str]
    shard_sizes: list[int]

    @abstractmethod
    def read(self, shard: int, rows: Sequence[int]) -> list[RawRecord]: ...

    def __len__(self) -> int:
        return sum(self.shard_sizes)


# ----------------------------------------------------------------------------------- Parquet


def _box(values: Sequence[float]) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in values)
    return x1, y1, x2, y2


def find_parquet_shards(path: Path, split: str = "train") -> list[Path]:
    """The shard files of ``split`` in a built folder (manifest first), or the ``*.parquet`` there.

    Raises:
        SourceNotFoundError: missing folder, or no shards for the split.
        SchemaMismatchError: the manifest has another schema version.
    """
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise SourceNotFoundError(f"{path}: no such shard folder or Parquet file")
    if (path / MANIFEST_NAME).is_file():
        try:
            from mgrs_builder.shards import list_shards, read_manifest
        except ImportError:  # pragma: no cover - older mgrs_builder
            read_manifest = list_shards = None  # type: ignore[assignment]
        if read_manifest is not None:
            manifest = read_manifest(path)
            if split not in manifest["splits"]:
                raise SourceNotFoundError(
                    f"{path}: no split {split!r} in {MANIFEST_NAME}; splits: {sorted(manifest['splits'])}"
                )
            files = list_shards(path, split)
            if files:
                return [Path(f) for f in files]
    files = sorted((path / DATA_DIR).glob(f"{split}-*.parquet")) or sorted(path.glob(f"{split}-*.parquet"))
    if not files:
        files = sorted(path.glob("*.parquet"))
    if not files:
        raise SourceNotFoundError(
            f"{path}: no Parquet shards for split {split!r} (expected "
            f"{DATA_DIR}/{split}-00000-of-NNNNN.parquet as written by `mgrs build`, or *.parquet files)"
        )
    return files


def check_parquet_schema(path: Path, schema: Any) -> None:
    """Raise :class:`SchemaMismatchError` naming ``path`` if its schema version or columns differ."""
    meta = schema.metadata or {}
    found = meta.get(SCHEMA_VERSION_KEY)
    found_str = found.decode() if found is not None else None
    if found_str != SCHEMA_VERSION:
        raise SchemaMismatchError(
            f"{path}: shard schema version {found_str!r} (metadata key {SCHEMA_VERSION_KEY.decode()!r}), "
            f"expected {SCHEMA_VERSION!r}; rebuild the shards with this mgrs_builder"
        )
    missing = [c for c in PARQUET_COLUMNS if c not in schema.names]
    if missing:
        raise SchemaMismatchError(
            f"{path}: missing columns {missing}, expected the mgrs_builder shard schema"
        )


class ParquetSource(RecordSource):
    """Rows of mgrs_builder shards (one row per tile, boxes in tile pixels)."""

    def __init__(self, path: str | Path, split: str = "train") -> None:
        self.path = Path(path)
        self.files = find_parquet_shards(self.path, split)
        self.shard_names = [str(f) for f in self.files]
        self.shard_sizes = []
        self._group_ends: list[list[int]] = []
        for f in self.files:
            pf = pq.ParquetFile(f)
            check_parquet_schema(f, pf.schema_arrow)
            ends, total = [], 0
            for i in range(pf.metadata.num_row_groups):
                total += pf.metadata.row_group(i).num_rows
                ends.append(total)
            self.shard_sizes.append(total)
            self._group_ends.append(ends)
        if sum(self.shard_sizes) == 0:
            raise SourceNotFoundError(
                f"{self.path}: the shards of split {split!r} hold no rows (empty dataset)"
            )
        self._open: tuple[int, pq.ParquetFile] | None = None

    def _file(self, shard: int) -> pq.ParquetFile:
        if self._open is None or self._open[0] != shard:
            self._open = (shard, pq.ParquetFile(self.files[shard]))
        return self._open[1]

    def read(self, shard: int, rows: Sequence[int]) -> list[RawRecord]:
        ends = self._group_ends[shard]
        starts = [0, *ends[:-1]]
        groups = sorted({next(g for g, e in enumerate(ends) if r < e) for r in rows})
        table = self._file(shard).read_row_groups(groups, columns=PARQUET_COLUMNS)
        offset, base = {}, 0
        for g in groups:
            offset[g] = base - starts[g]
            base += ends[g] - starts[g]
        local = [r + offset[next(g for g in groups if r < ends[g])] for r in rows]
        origin = self.shard_names[shard]
        out = []
        # plain Python indexing: Table.take would import pyarrow.compute (and pandas), seconds per worker
        rows_read = table.to_pylist()
        for row_no, row in zip(rows, (rows_read[i] for i in local), strict=True):
            image = row["image"] or {}
            if not image.get("bytes"):
                raise ValueError(f"{origin}: row {row_no} (key {row['key']!r}) has no image bytes")
            objects = tuple(
                RawObject(_box(o["bbox"]), o["category"], int(o["category_id"])) for o in row["objects"] or ()
            )
            out.append(
                RawRecord(
                    key=row["key"],
                    origin=f"{origin} row {row_no}",
                    caption_short=row["caption_short"],
                    caption_long=row["caption_long"],
                    objects=objects,
                    image_bytes=image["bytes"],
                )
            )
        return out


# ----------------------------------------------------------------------------- MGRS release


def _mgrs_object(seg: Any, json_path: Path, idx: int, j: int) -> RawObject:
    where = f"record {idx} segment {j}"
    if not isinstance(seg, dict) or "bbox" not in seg:
        raise AnnotationParseError(
            json_path, idx, f"{where} has no 'bbox'", "a dict with bbox, category, category_id"
        )
    bbox = seg["bbox"]
    values = list(bbox.values()) if isinstance(bbox, dict) else list(bbox)
    if len(values) < 4:
        raise AnnotationParseError(
            json_path, idx, f"{where}: bbox has {len(values)} values", "x1, y1, x2, y2, W, H"
        )
    x1, y1, x2, y2 = (float(v) for v in values[:4])
    cap = seg.get("cap")
    if cap:
        return RawObject((x1, y1, x2, y2), str(seg.get("category", "")), -1, caption=str(cap))
    if "category" not in seg or "category_id" not in seg:
        raise AnnotationParseError(
            json_path, idx, f"{where} lacks category/category_id", "both keys, or a 'cap'"
        )
    return RawObject((x1, y1, x2, y2), str(seg["category"]), int(seg["category_id"]))


class MgrsJsonSource(RecordSource):
    """The released MGRS-200k layout: ``ROOT/global_imgs/`` plus ``ROOT/text_info.json`` (spec 2.1).

    Each JSON record has ``global_filepath`` (relative to ``global_imgs/``), captions
    (``global_caption`` / ``detailed_caption`` long, ``brief_caption`` short) and ``segment``: objects
    with a ``bbox`` whose values are x1, y1, x2, y2, W, H, a ``category`` and a ``category_id``.
    """

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        json_path = path / "text_info.json" if path.is_dir() else path
        if not json_path.is_file():
            raise SourceNotFoundError(
                f"{json_path}: not found (expected ROOT/text_info.json next to ROOT/global_imgs/)"
            )
        self.image_dir = json_path.parent / "global_imgs"
        if not self.image_dir.is_dir():
            raise SourceNotFoundError(
                f"{self.image_dir}: not found (the MGRS image folder next to {json_path.name})"
            )
        try:
            data = json.loads(json_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise AnnotationParseError(
                json_path, err.lineno, f"not valid JSON ({err.msg})", "a list of records"
            ) from err
        if not isinstance(data, list):
            raise AnnotationParseError(
                json_path, None, f"top level is {type(data).__name__}", "a list of records"
            )
        if not data:
            raise SourceNotFoundError(f"{json_path}: holds no records (empty dataset)")
        self.json_path = json_path
        self.records: list[RawRecord] = []
        for idx, rec in enumerate(data):
            if not isinstance(rec, dict) or "global_filepath" not in rec:
                raise AnnotationParseError(
                    json_path, idx, "record has no 'global_filepath'", "the MGRS record schema"
                )
            long = rec.get("global_caption") or rec.get("detailed_caption")
            short = rec.get("brief_caption") or rec.get("global_caption")
            if not long and not short:
                raise AnnotationParseError(
                    json_path, idx, "record has no caption",
                    "global_caption, detailed_caption or brief_caption",
                )
            segments = rec.get("segment") or ()
            objects = tuple(_mgrs_object(seg, json_path, idx, j) for j, seg in enumerate(segments))
            self.records.append(
                RawRecord(
                    key=str(rec["global_filepath"]),
                    origin=f"{json_path} record {idx}",
                    caption_short=short,
                    caption_long=long,
                    objects=objects,
                    image_path=str(self.image_dir / rec["global_filepath"]),
                )
            )
        self.shard_names = [str(json_path)]
        self.shard_sizes = [len(self.records)]

    def read(self, shard: int, rows: Sequence[int]) -> list[RawRecord]:
        return [self.records[r] for r in rows]


# ------------------------------------------------------------------------------ webdataset


def _wds_key(name: str) -> tuple[str, str]:
    """webdataset convention: the key is the path up to the first dot of the file name."""
    head, _, base = name.rpartition("/")
    stem, dot, ext = base.partition(".")
    return (f"{head}/{stem}" if head else stem), (dot + ext).lower()


class WebDatasetSource(RecordSource):
    """RS5M-style webdataset tars: ``key.jpg``/``key.png`` plus ``key.txt`` or ``key.json`` (caption).

    Samples without an image or a caption are skipped and counted in ``skipped`` by reason.
    """

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        if path.is_file():
            tars = [path]
        elif path.is_dir():
            tars = sorted(path.glob("*.tar"))
        else:
            raise SourceNotFoundError(f"{path}: no such tar file or folder")
        if not tars:
            raise SourceNotFoundError(
                f"{path}: no .tar files (expected webdataset shards, e.g. rs3-train-0000.tar)"
            )
        self.tars = tars
        self.skipped: Counter[str] = Counter()
        self._index: list[list[tuple[str, tarfile.TarInfo, tarfile.TarInfo]]] = []
        for tar_path in tars:
            groups: dict[str, dict[str, tarfile.TarInfo]] = {}
            try:
                with tarfile.open(tar_path) as tf:
                    for member in tf.getmembers():
                        if member.isfile():
                            key, ext = _wds_key(member.name)
                            groups.setdefault(key, {})[ext] = member
            except tarfile.TarError as err:
                raise SourceNotFoundError(f"{tar_path}: not a readable tar file ({err})") from err
            samples = []
            for key in sorted(groups):
                parts = groups[key]
                image = next((parts[e] for e in IMAGE_EXTENSIONS if e in parts), None)
                text = parts.get(".txt") or parts.get(".json")
                if image is None:
                    self.skipped["no image (.jpg/.png/...)"] += 1
                elif text is None:
                    self.skipped["no caption (.txt/.json)"] += 1
                else:
                    samples.append((key, image, text))
            self._index.append(samples)
        if self.skipped:
            logger.warning("%s: skipped %d samples: %s", path, sum(self.skipped.values()), dict(self.skipped))
        self.shard_names = [str(t) for t in tars]
        self.shard_sizes = [len(s) for s in self._index]
        if sum(self.shard_sizes) == 0:
            raise SourceNotFoundError(f"{path}: the tars hold no image+caption samples (empty dataset)")

    def _caption(self, raw: bytes, name: str, origin: str) -> str:
        text = raw.decode("utf-8").strip()
        if name.endswith(".json"):
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as err:
                raise ValueError(f"{origin}: {name} is not valid JSON ({err})") from err
            found = next((obj[k] for k in CAPTION_JSON_KEYS if isinstance(obj, dict) and obj.get(k)), None)
            if found is None:
                raise ValueError(f"{origin}: {name} has none of the caption keys {list(CAPTION_JSON_KEYS)}")
            text = str(found)
        return text

    def read(self, shard: int, rows: Sequence[int]) -> list[RawRecord]:
        out = []
        origin = self.shard_names[shard]
        with tarfile.open(self.tars[shard]) as tf:
            for r in rows:
                key, image, text = self._index[shard][r]
                img_f, txt_f = tf.extractfile(image), tf.extractfile(text)
                if img_f is None or txt_f is None:  # pragma: no cover - regular members always extract
                    raise ValueError(f"{origin}: cannot read sample {key!r}")
                caption = self._caption(txt_f.read(), text.name, origin)
                out.append(
                    RawRecord(
                        key=key,
                        origin=f"{origin} ({image.name})",
                        caption_short=caption,
                        caption_long=caption,
                        image_bytes=img_f.read(),
                    )
                )
        return out


def open_source(fmt: str, path: str | Path | None, split: str = "train") -> RecordSource:
    """The source for ``data.format`` (``parquet``, ``mgrs_json``, ``webdataset``) at ``path``."""
    if path is None:
        raise SourceNotFoundError(f"no data path given for data.format={fmt!r} (set data.path=DIR)")
    if fmt == "parquet":
        return ParquetSource(path, split)
    if fmt == "mgrs_json":
        return MgrsJsonSource(path)
    if fmt == "webdataset":
        return WebDatasetSource(path)
    raise ValueError(f"unknown data.format {fmt!r}; expected parquet, mgrs_json or webdataset")
