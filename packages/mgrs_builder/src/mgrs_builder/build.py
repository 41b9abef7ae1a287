"""``build_dataset``: source readers -> checked, tiled, captioned tiles -> Parquet shards + card.

Flow per source image (in a worker process when ``workers > 1``):

1. id/split leakage rules (before decoding);
2. decode the image (missing, corrupt, truncated, wrong size are bad records);
3. per object: category (vocabulary, resolved in the main process), geometry checks
   (NaN, too few points, zero area, self-intersection, outside the image);
4. scene pHash leakage check, tiling (:mod:`mgrs_builder.tiling`), per-tile pHash check, captions.

Each finished image is checkpointed (an Arrow IPC file, written atomically) in ``DIR/.mgrs_work``.
A killed build resumes from these checkpoints; the final assembly reads them back in the fixed
source/image order, so shards, manifest, report and card are byte-identical to an uninterrupted
build, whatever the number of workers.

Accounting, per source: every source object ends in exactly one bucket, and
``objects_in == objects_kept + objects_dropped_by_tiling + sum(objects_filtered) + sum(objects_rejected)``
is checked before anything is written.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pyarrow as pa
from PIL import Image, UnidentifiedImageError
from shapely import STRtree

from . import __version__
from .captions import CaptionObject, Captioner, TileContext, make_captioner
from .errors import MgrsBuilderError, RecordValidationError, SourceNotFoundError, UnknownCategoryError
from .geometry import check_polygon, polygon_problem
from .leakage import LeakageConfig, LeakageGuard
from .progress import progress_bar
from .records import OnBadRecord, SourceImage
from .schema import MANIFEST_NAME, REPORT_NAME, SCHEMA_VERSION, arrow_schema, tile_key
from .shards import DEFAULT_MAX_SHARD_BYTES, ShardWriter, atomic_write_bytes, atomic_write_json
from .tiling import TilingConfig, objects_in_window, tile_windows

logger = logging.getLogger(__name__)

WORK_DIR_NAME = ".mgrs_work"
_MAX_DETAILS = 1000  # rejection details kept per source in the report (counts are always complete)
_STATS_KEY = b"mgrs_image_stats"

# Reasons for whole images (their objects are rejected with the same reason).
MISSING_IMAGE = "image_missing"
CORRUPT_IMAGE = "corrupt_image"
SIZE_MISMATCH = "image_size_mismatch"
UNKNOWN_CATEGORY = "unknown_category"


def parse_source_spec(spec: str) -> tuple[str, Path]:
    """``NAME=PATH`` (NAME may carry a ``:label`` suffix) -> (name, path).

    Raises:
        MgrsBuilderError: no ``=`` or an empty side.
    """
    name, sep, path = spec.partition("=")
    if not sep or not name.strip() or not path.strip():
        raise MgrsBuilderError(f"source {spec!r}: expected NAME=PATH, e.g. dota=/data/DOTA or dota:v1=/data/DOTA-v1")
    return name.strip(), Path(path.strip())


@dataclass
class SourceReport:
    """What happened to one source. Dicts are keyed by reason or rule name."""

    reader: str
    root: str
    images_in: int = 0
    images_written: int = 0
    images_without_annotations: int = 0
    images_skipped: dict[str, int] = field(default_factory=dict)
    images_filtered: dict[str, int] = field(default_factory=dict)
    objects_in: int = 0
    objects_kept: int = 0
    objects_dropped_by_tiling: int = 0
    objects_filtered: dict[str, int] = field(default_factory=dict)
    objects_rejected: dict[str, int] = field(default_factory=dict)
    tiles_written: int = 0
    tiles_filtered: dict[str, int] = field(default_factory=dict)
    tiles_empty_skipped: int = 0
    rejections: list[dict[str, Any]] = field(default_factory=list)
    rejections_not_listed: int = 0
    dropped: list[dict[str, Any]] = field(default_factory=list)

    def balance(self) -> int:
        """objects_in minus the four buckets: zero when every object is accounted for."""
        return self.objects_in - (self.objects_kept + self.objects_dropped_by_tiling
                                  + sum(self.objects_filtered.values()) + sum(self.objects_rejected.values()))

    def merge(self, stats: Mapping[str, Any]) -> None:
        """Add one image's stats (see ``_ImageStats``)."""
        self.images_in += 1
        for key in ("images_written", "images_without_annotations", "objects_in", "objects_kept",
                    "objects_dropped_by_tiling", "tiles_written", "tiles_empty_skipped"):
            setattr(self, key, getattr(self, key) + int(stats[key]))
        for key in ("images_skipped", "images_filtered", "objects_filtered", "objects_rejected", "tiles_filtered"):
            target: dict[str, int] = getattr(self, key)
            for k, v in stats[key].items():
                target[k] = target.get(k, 0) + int(v)
            setattr(self, key, dict(sorted(target.items())))
        for item in stats["rejections"]:
            if len(self.rejections) < _MAX_DETAILS:
                self.rejections.append(item)
            else:
                self.rejections_not_listed += 1
        self.dropped.extend(stats["dropped"])


@dataclass
class BuildReport:
    """The JSON report of a build (``DIR/build_report.json``)."""

    out_dir: Path
    config: dict[str, Any]
    sources: dict[str, SourceReport]
    splits: dict[str, int] = field(default_factory=dict)

    @property
    def tiles_written(self) -> int:
        """Tiles over all sources."""
        return sum(s.tiles_written for s in self.sources.values())

    def check_accounting(self) -> None:
        """Raise if any source's objects do not add up (an internal invariant, checked before writing)."""
        for name, s in self.sources.items():
            if s.balance() != 0:
                raise MgrsBuilderError(
                    f"accounting broken for source {name!r}: objects_in={s.objects_in} but kept "
                    f"{s.objects_kept} + dropped_by_tiling {s.objects_dropped_by_tiling} + filtered "
                    f"{s.objects_filtered} + rejected {s.objects_rejected} differ by {s.balance()}"
                )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (no timestamps or output paths, so equal builds give equal reports)."""
        total: Counter[str] = Counter()
        for s in self.sources.values():
            for key in ("images_in", "objects_in", "objects_kept", "objects_dropped_by_tiling", "tiles_written"):
                total[key] += getattr(s, key)
            total["objects_filtered"] += sum(s.objects_filtered.values())
            total["objects_rejected"] += sum(s.objects_rejected.values())
        return {
            "schema_version": SCHEMA_VERSION,
            "builder_version": __version__,
            "config": self.config,
            "totals": dict(total),
            "splits": self.splits,
            "sources": {k: asdict(v) for k, v in self.sources.items()},
        }

    def summary_rows(self) -> list[list[str]]:
        """Rows of the CLI summary table (header first)."""
        rows = [["source", "images", "objects", "kept", "dropped(tiling)", "filtered", "rejected", "tiles"]]
        for name, s in self.sources.items():
            rows.append([name, str(s.images_in), str(s.objects_in), str(s.objects_kept),
                         str(s.objects_dropped_by_tiling), str(sum(s.objects_filtered.values())),
                         str(sum(s.objects_rejected.values())), str(s.tiles_written)])
        return rows


@dataclass(frozen=True)
class _Settings:
    """Everything a worker needs; pickled once per worker."""

    tiling: TilingConfig
    captioner: str | Captioner
    captioner_options: Mapping[str, Any]
    on_bad_record: OnBadRecord
    guard: LeakageGuard
    keep_empty_tiles: bool
    image_format: str
    filter_categories: frozenset[str]


@dataclass(frozen=True)
class _ResolvedObject:
    category: str | None  # None: rejected (see reason)
    category_id: int
    parent: str | None
    reason: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class _Task:
    source: str
    reader: str
    source_index: int
    image_index: int
    image: SourceImage
    resolved: tuple[_ResolvedObject, ...]


def _empty_stats() -> dict[str, Any]:
    return {
        "images_written": 0, "images_without_annotations": 0, "objects_in": 0, "objects_kept": 0,
        "objects_dropped_by_tiling": 0, "tiles_written": 0, "tiles_empty_skipped": 0,
        "images_skipped": {}, "images_filtered": {}, "objects_filtered": {}, "objects_rejected": {},
        "tiles_filtered": {}, "rejections": [], "dropped": [],
    }


def _bump(d: dict[str, int], key: str, n: int = 1) -> None:
    if n:
        d[key] = d.get(key, 0) + n


_CAPTIONER: Captioner | None = None
_SETTINGS: _Settings | None = None


def _init_worker(settings: _Settings) -> None:
    global _SETTINGS, _CAPTIONER
    _SETTINGS = settings
    _CAPTIONER = None


def _captioner(settings: _Settings) -> Captioner:
    global _CAPTIONER
    if _CAPTIONER is None:
        _CAPTIONER = make_captioner(settings.captioner, **dict(settings.captioner_options))
    return _CAPTIONER


def _bad(settings: _Settings, stats: dict[str, Any], reason: str, path: str, line: int | None, detail: str,
         error: Exception) -> None:
    if settings.on_bad_record == "error":
        raise error
    _bump(stats["objects_rejected"], reason)
    stats["rejections"].append({"reason": reason, "path": path, "line": line, "detail": detail})


def _skip_image(settings: _Settings, stats: dict[str, Any], task: _Task, reason: str, detail: str,
                error: Exception) -> dict[str, Any]:
    if settings.on_bad_record == "error":
        raise error
    img = task.image
    _bump(stats["images_skipped"], reason)
    stats["rejections"].append({"reason": reason, "path": str(img.image_path), "line": None, "detail": detail})
    n_valid = sum(1 for r in task.resolved if r.reason is None)
    _bump(stats["objects_rejected"], reason, n_valid)
    return stats


def _load_image(task: _Task, settings: _Settings, stats: dict[str, Any]) -> Image.Image | None:
    img = task.image
    path = Path(img.image_path)
    if not path.is_file():
        detail = f"image file missing (annotation: {img.annotation_path})"
        _skip_image(settings, stats, task, MISSING_IMAGE, detail, SourceNotFoundError(f"{path}: {detail}"))
        return None
    try:
        with Image.open(path) as im:
            im.load()
            pil = im.convert("RGB")
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        detail = f"cannot decode image: {err}"
        _skip_image(settings, stats, task, CORRUPT_IMAGE, detail, RecordValidationError(f"{path}: {detail}"))
        return None
    if (img.width is not None and img.width != pil.width) or (img.height is not None and img.height != pil.height):
        detail = f"annotation says {img.width}x{img.height} but the image is {pil.width}x{pil.height}"
        _skip_image(settings, stats, task, SIZE_MISMATCH, detail, RecordValidationError(f"{path}: {detail}"))
        return None
    return pil


def _encode(image: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "png":
        image.save(buf, format="PNG")
    else:
        image.save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def process_image(task: _Task, settings: _Settings) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Tiles (schema rows) and accounting of one source image. Raises on bad records in error mode."""
    img = task.image
    stats = _empty_stats()
    stats["objects_in"] = len(img.objects) + len(img.rejected)
    for rej in img.rejected:
        _bump(stats["objects_rejected"], rej.reason)
        stats["rejections"].append({"reason": rej.reason, "path": rej.path, "line": rej.line, "detail": rej.detail})
    for res, obj in zip(task.resolved, img.objects, strict=True):
        if res.reason is not None:
            _bump(stats["objects_rejected"], res.reason)
            stats["rejections"].append({"reason": res.reason, "path": str(img.annotation_path), "line": obj.line,
                                        "detail": res.detail})
    n_valid = sum(1 for r in task.resolved if r.reason is None)
    if img.annotation_path is None and not img.objects:
        stats["images_without_annotations"] = 1

    rule = settings.guard.scene_rule(task.reader, img.image_id, img.split)
    if rule is not None:
        _bump(stats["images_filtered"], rule)
        _bump(stats["objects_filtered"], rule, n_valid)
        stats["dropped"].append({"image_id": img.image_id, "split": img.split, "rule": rule, "window": None})
        return [], stats

    pil = _load_image(task, settings, stats)
    if pil is None:
        return [], stats
    width, height = pil.size

    match = settings.guard.match(pil)
    if match is not None:
        _bump(stats["images_filtered"], "phash_scene")
        _bump(stats["objects_filtered"], "phash_scene", n_valid)
        stats["dropped"].append({"image_id": img.image_id, "split": img.split, "rule": "phash_scene",
                                 "window": None, "match": match})
        return [], stats

    valid: list[tuple[Any, float, int]] = []  # (shape, area, object index)
    where = str(img.annotation_path or img.image_path)
    for i, (res, obj) in enumerate(zip(task.resolved, img.objects, strict=True)):
        if res.reason is not None:
            continue
        if res.category in settings.filter_categories:
            _bump(stats["objects_filtered"], f"category:{res.category}")
            continue
        problem = polygon_problem(obj.polygon, width, height)
        if problem is not None:
            reason, detail = problem
            loc = f"{where}:{obj.line}" if obj.line is not None else where
            _bad(settings, stats, reason, where, obj.line, detail,
                 RecordValidationError(f"{loc}: {reason}: {detail} (expected a simple polygon with positive "
                                       f"area inside the {width}x{height} image)"))
            continue
        checked = check_polygon(obj.polygon, width, height)
        valid.append((checked.shape, checked.area, i))

    shapes = [(s, a) for s, a, _ in valid]
    tree = STRtree([s for s, _ in shapes]) if len(shapes) > 32 else None
    placed = [False] * len(valid)
    filtered_by: dict[int, str] = {}
    rows: list[dict[str, Any]] = []
    captioner = _captioner(settings)
    for window in tile_windows(width, height, settings.tiling.tile_size, settings.tiling.overlap):
        kept = objects_in_window(shapes, window, settings.tiling.min_visible, tree)
        if not kept and not settings.keep_empty_tiles:
            stats["tiles_empty_skipped"] += 1
            continue
        crop = pil.crop(window)
        match = settings.guard.match(crop)
        if match is not None:
            _bump(stats["tiles_filtered"], "phash_tile")
            for t in kept:
                filtered_by.setdefault(t.index, "phash_tile")
            stats["dropped"].append({"image_id": img.image_id, "split": img.split, "rule": "phash_tile",
                                     "window": list(window), "match": match})
            continue
        objects = []
        for t in kept:
            placed[t.index] = True
            obj = img.objects[valid[t.index][2]]
            res = task.resolved[valid[t.index][2]]
            c = t.clipped
            objects.append({
                "bbox": list(c.bbox), "polygon": list(c.polygon), "category": res.category,
                "category_id": res.category_id, "parent_category": res.parent, "source_category": obj.label,
                "truncated": c.truncated, "difficult": bool(obj.difficult), "visible_fraction": c.visible_fraction,
            })
        tw, th = window[2] - window[0], window[3] - window[1]
        cap = captioner.caption(TileContext(
            width=tw, height=th, gsd=img.gsd, source=task.source,
            objects=[CaptionObject(str(o["category"]), tuple(o["bbox"]), bool(o["truncated"])) for o in objects],
            image=crop if captioner.needs_image else None,
        ))
        key = tile_key(task.source, img.image_id, window)
        rows.append({
            "key": key, "source": task.source, "source_image_id": img.image_id, "split": img.split,
            "image": {"bytes": _encode(crop, settings.image_format), "path": f"{key}.{settings.image_format}"},
            "width": tw, "height": th, "window": list(window), "gsd": img.gsd, "objects": objects,
            "caption_short": cap.short, "caption_long": cap.long, "caption_backend": cap.backend,
            "caption_model": cap.model,
        })
    for j in range(len(valid)):
        if placed[j]:
            stats["objects_kept"] += 1
        elif j in filtered_by:
            _bump(stats["objects_filtered"], filtered_by[j])
        else:
            stats["objects_dropped_by_tiling"] += 1
    stats["tiles_written"] = len(rows)
    stats["images_written"] = int(bool(rows))
    return rows, stats


def _worker(task: _Task) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    assert _SETTINGS is not None, "worker not initialised"
    return process_image(task, _SETTINGS)


def _checkpoint_path(work: Path, task: _Task) -> Path:
    digest = hashlib.sha1(f"{task.source}\0{task.image.image_id}".encode()).hexdigest()[:12]
    return work / "images" / f"{task.source_index:03d}-{task.image_index:08d}-{digest}.arrow"


def _write_checkpoint(path: Path, rows: list[dict[str, Any]], stats: dict[str, Any]) -> None:
    schema = arrow_schema().with_metadata({_STATS_KEY: json.dumps(stats).encode()})
    table = pa.Table.from_pylist(rows, schema=schema)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, schema) as writer:
        writer.write_table(table)
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


def _read_checkpoint(path: Path, keys_only: bool = False) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
    try:
        with pa.memory_map(str(path)) as src:
            table = pa.ipc.open_file(src).read_all()
        stats = json.loads(table.schema.metadata[_STATS_KEY])
        if keys_only:
            return [{"key": k} for k in table.column("key").to_pylist()], stats
        return table.to_pylist(), stats
    except (OSError, pa.ArrowInvalid, KeyError, json.JSONDecodeError) as err:
        logger.warning("checkpoint %s unreadable (%s); redoing that image", path, err)
        return None


def _resolve(vocab: Any, task_source: str, img: SourceImage, on_bad: OnBadRecord) -> tuple[_ResolvedObject, ...]:
    out = []
    for obj in img.objects:
        try:
            cat = vocab.resolve(task_source, obj.label, img.annotation_path, obj.line)
        except UnknownCategoryError as err:
            if on_bad == "error":
                raise
            out.append(_ResolvedObject(None, -1, None, UNKNOWN_CATEGORY, str(err)))
            continue
        out.append(_ResolvedObject(cat.name, int(cat.id), cat.parent))
    return tuple(out)


def build_dataset(
    out_dir: Path,
    sources: Mapping[str, Path],
    *,
    tile_size: int = 512,
    overlap: int = 128,
    captioner: str | Captioner = "template",
    on_bad_record: OnBadRecord = "error",
    workers: int = 1,
    leakage: LeakageConfig | None = None,
    vocabulary: Any = None,
    progress: bool = True,
    min_visible: float = 0.5,
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
    keep_empty_tiles: bool = True,
    image_format: str = "png",
    filter_categories: tuple[str, ...] = ("background",),
    captioner_options: Mapping[str, Any] | None = None,
    reader_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> BuildReport:
    """Build a shard folder from source datasets in their native layouts.

    Args:
        out_dir: output folder (``data/``, ``manifest.json``, ``build_report.json``, ``README.md``).
        sources: ``{NAME: root}``; NAME is a reader name, optionally ``NAME:label``.
        tile_size: tile side in pixels (see :mod:`mgrs_builder.tiling` for the defaults' reasons).
        overlap: overlap of neighbouring tiles in pixels.
        captioner: ``"template"``, ``"hf:MODEL_ID"`` or a :class:`Captioner`.
        on_bad_record: ``"error"`` raises on the first bad record; ``"skip"`` counts it in the report.
        workers: processes for decoding/tiling/captioning; output does not depend on it.
        leakage: leakage rules (default: built-in id/split rules, no pHash folders).
        vocabulary: a ``categories.Vocabulary`` (default: ``Vocabulary.default()``).
        progress: show progress bars (only on a terminal, never in CI).
        min_visible: visible-area (IoF) threshold for objects cut by a tile border.
        max_shard_bytes: shard size cap.
        keep_empty_tiles: write tiles without objects (the DOTA devkit does).
        image_format: ``"png"`` (lossless, default) or ``"jpeg"`` for the tile bytes.
        filter_categories: canonical categories dropped as ``objects_filtered["category:NAME"]``.
        captioner_options: keyword options for the captioner backend (e.g. ``prompt_long``).
        reader_options: per source NAME, keyword options for its reader.

    Returns:
        The :class:`BuildReport` (also written to ``out_dir/build_report.json``).

    Raises:
        SourceNotFoundError: a source root is missing.
        AnnotationParseError, RecordValidationError, UnknownCategoryError: bad input in ``error`` mode.
    """
    from .card import render_card
    from .categories import Vocabulary
    from .sources import get_reader

    out_dir = Path(out_dir)
    tiling = TilingConfig(tile_size, overlap, min_visible)
    tiling.validate()
    if on_bad_record not in ("error", "skip"):
        raise MgrsBuilderError(f"on_bad_record must be 'error' or 'skip', got {on_bad_record!r}")
    if image_format not in ("png", "jpeg"):
        raise MgrsBuilderError(f"image_format must be 'png' or 'jpeg', got {image_format!r}")
    if workers < 1:
        raise MgrsBuilderError(f"workers must be >= 1, got {workers}")
    if not sources:
        raise MgrsBuilderError("no sources given; pass at least one NAME=PATH")
    vocab = vocabulary if vocabulary is not None else Vocabulary.default()
    readers = {name: get_reader(name, **dict((reader_options or {}).get(name, {}))) for name in sources}
    for name, root in sources.items():
        if not Path(root).is_dir():
            raise SourceNotFoundError(f"source {name!r}: root {root} does not exist or is not a folder")
    leakage = leakage or LeakageConfig()
    guard = LeakageGuard(leakage)
    if isinstance(captioner, str):
        make_captioner(captioner, **dict(captioner_options or {}))  # fail early on a bad spec
    cap_name = captioner if isinstance(captioner, str) else (
        f"{captioner.backend}:{captioner.model}" if captioner.model else captioner.backend)
    config: dict[str, Any] = {
        "sources": {n: {"reader": r.name, "root": str(sources[n])} for n, r in readers.items()},
        "tile_size": tile_size, "overlap": overlap, "min_visible": min_visible,
        "captioner": cap_name, "captioner_options": dict(captioner_options or {}),
        "on_bad_record": on_bad_record, "leakage": leakage.fingerprint(),
        "keep_empty_tiles": keep_empty_tiles, "image_format": image_format,
        "filter_categories": sorted(filter_categories), "max_shard_bytes": max_shard_bytes,
        "reader_options": {k: dict(v) for k, v in (reader_options or {}).items()},
    }
    settings = _Settings(tiling, captioner, dict(captioner_options or {}), on_bad_record, guard,
                         keep_empty_tiles, image_format, frozenset(filter_categories))
    work = _prepare_work_dir(out_dir, config, vocab)

    report = BuildReport(out_dir, config, {n: SourceReport(r.name, str(sources[n])) for n, r in readers.items()})
    checkpoints: list[tuple[str, Path]] = []

    def tasks() -> Iterator[_Task]:
        for s_idx, (name, reader) in enumerate(readers.items()):
            for i_idx, img in enumerate(reader.iter_images(Path(sources[name]), on_bad_record)):
                yield _Task(name, reader.name, s_idx, i_idx, img, _resolve(vocab, name, img, on_bad_record))

    bar = progress_bar(desc="images", unit="img", enabled=progress)
    try:
        for task, result in _run(tasks(), settings, workers, work):
            path = _checkpoint_path(work, task)
            if result is not None:
                _write_checkpoint(path, *result)
            checkpoints.append((task.source, path))
            bar.update(1)
    finally:
        bar.close()

    writer = ShardWriter(out_dir, max_shard_bytes=max_shard_bytes)
    seen: dict[str, str] = {}
    pending_rows: list[tuple[str, Path]] = []
    for name, path in checkpoints:
        loaded = _read_checkpoint(path, keys_only=True)
        if loaded is None:
            raise MgrsBuilderError(f"checkpoint {path} vanished or is corrupt during the build; run it again")
        rows, stats = loaded
        report.sources[name].merge(stats)
        for row in rows:
            if row["key"] in seen:
                raise RecordValidationError(f"duplicate record key {row['key']!r} (source {name!r}); "
                                            "image ids must be unique within a source")
            seen[row["key"]] = name
        pending_rows.append((name, path))
    report.check_accounting()
    for _, path in progress_bar(pending_rows, desc="shards", unit="img", enabled=progress):
        loaded = _read_checkpoint(path)
        assert loaded is not None
        for row in loaded[0]:
            writer.add(row)
    categories = [{"name": c.name, "id": int(c.id), "parent": c.parent} for c in vocab]
    manifest = writer.finish(categories, extra={"sources": config["sources"]})
    report.splits = {k: v["rows"] for k, v in manifest["splits"].items()} if manifest["splits"] else {}
    atomic_write_json(out_dir / REPORT_NAME, report.to_dict())
    atomic_write_bytes(out_dir / "README.md", render_card(manifest, report.to_dict()).encode())
    shutil.rmtree(work, ignore_errors=True)
    logger.info("build finished: %d tiles in %s", report.tiles_written, out_dir)
    return report


def _prepare_work_dir(out_dir: Path, config: dict[str, Any], vocab: Any) -> Path:
    work = out_dir / WORK_DIR_NAME
    fingerprint = {"builder_version": __version__, "schema_version": SCHEMA_VERSION, "config": config,
                   "categories": [[c.name, int(c.id), c.parent] for c in vocab]}
    cfg_path = work / "config.json"
    if cfg_path.is_file():
        try:
            previous = json.loads(cfg_path.read_text())
        except json.JSONDecodeError:
            previous = None
        if previous == json.loads(json.dumps(fingerprint)):
            logger.info("resuming the build from checkpoints in %s", work)
            return work
        logger.warning("settings changed since the interrupted build in %s; starting over", work)
        shutil.rmtree(work)
    elif (out_dir / MANIFEST_NAME).exists():
        logger.info("overwriting the finished build in %s", out_dir)
    (work / "images").mkdir(parents=True, exist_ok=True)
    atomic_write_json(cfg_path, fingerprint)
    return work


def _run(tasks: Iterator[_Task], settings: _Settings, workers: int, work: Path
         ) -> Iterator[tuple[_Task, tuple[list[dict[str, Any]], dict[str, Any]] | None]]:
    """Process tasks in order; yields (task, result) or (task, None) when a checkpoint already exists."""
    if workers == 1:
        _init_worker(settings)
        for task in tasks:
            path = _checkpoint_path(work, task)
            yield task, (None if path.is_file() else process_image(task, settings))
        return
    window = 4 * workers
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker,
                             initargs=(settings,)) as pool:
        queue: list[tuple[_Task, Future[Any] | None]] = []
        for task in tasks:
            path = _checkpoint_path(work, task)
            queue.append((task, None if path.is_file() else pool.submit(_worker, task)))
            while len(queue) >= window:
                t, fut = queue.pop(0)
                yield t, (fut.result() if fut is not None else None)
        for t, fut in queue:
            yield t, (fut.result() if fut is not None else None)
