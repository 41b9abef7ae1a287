"""The source-reader contract, its registry and the plumbing every reader shares.

A reader lists the images of a source root cheaply (``_entries``), then parses one image's
annotation at a time (``_parse``). ``iter_images`` adds the common rules: the root must exist, ids
are made unique, iteration is sorted by image id, and bad records either raise or become
``Rejection`` records, depending on ``on_bad_record``.
"""

from __future__ import annotations

import importlib
import logging
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from mgrs_builder.errors import AnnotationParseError, MgrsBuilderError, SourceNotFoundError
from mgrs_builder.records import OnBadRecord, Rejection, SourceImage, SourceObject
from mgrs_builder.sources._imagesize import read_image_size

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
KNOWN_SPLITS: tuple[str, ...] = ("train", "val", "test", "trainval", "validation")

_REGISTRY: dict[str, type[SourceReader]] = {}
R = TypeVar("R", bound="type[SourceReader]")


@dataclass(frozen=True)
class Entry:
    """One image found by a layout scan, before its annotation is parsed.

    ``qualifier`` disambiguates ids that repeat across splits or sub-folders (e.g. ``train`` or
    ``val-rural``); it is only used when two entries share an ``image_id``.
    """

    image_id: str
    split: str
    image_path: Path
    annotation_path: Path | None
    qualifier: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class RecordSink:
    """Collects the objects and rejections of one annotation file under one ``on_bad_record`` mode."""

    def __init__(self, path: Path | str, on_bad_record: OnBadRecord):
        if on_bad_record not in ("error", "skip"):
            raise MgrsBuilderError(f"on_bad_record must be 'error' or 'skip', got {on_bad_record!r}")
        self.path = str(path)
        self.mode = on_bad_record
        self.objects: list[SourceObject] = []
        self.rejected: list[Rejection] = []

    def add(self, obj: SourceObject) -> None:
        self.objects.append(obj)

    def bad(
        self, line: int | None, problem: str, expected: str | None = None, reason: str = "malformed"
    ) -> None:
        """Raise in ``error`` mode; record a ``Rejection`` with ``reason`` in ``skip`` mode."""
        if self.mode == "error":
            raise AnnotationParseError(self.path, line, problem, expected)
        detail = problem + (f" (expected {expected})" if expected else "")
        self.rejected.append(Rejection(reason=reason, path=self.path, line=line, detail=detail))


class SourceReader(ABC):
    """Reads one public dataset in its native layout into ``SourceImage`` records."""

    name: ClassVar[str]
    format: ClassVar[str]
    task: ClassVar[str]  # "detection" | "instance" | "segmentation"
    labels: ClassVar[tuple[str, ...]]

    def __init__(self, *, read_sizes: bool = True, split: str | None = None, **options: Any):
        """``read_sizes`` fills width/height from the image header; ``split`` overrides the split
        name for layouts that do not state one. Reader-specific options are documented per reader."""
        if options:
            raise MgrsBuilderError(
                f"reader {self.name!r} got unknown option(s) {sorted(options)}; "
                f"see the docstring of {type(self).__name__}"
            )
        self.read_sizes = read_sizes
        self.split = split

    def iter_images(self, root: Path, on_bad_record: OnBadRecord = "error") -> Iterator[SourceImage]:
        """Yield every image of the source under ``root``, sorted by image id."""
        root = Path(root)
        if not root.is_dir():
            raise SourceNotFoundError(f"{self.name} source root {root} does not exist or is not a folder")
        if on_bad_record not in ("error", "skip"):
            raise MgrsBuilderError(f"on_bad_record must be 'error' or 'skip', got {on_bad_record!r}")
        entries = _unique_ids(self._entries(root))
        if not entries:
            raise SourceNotFoundError(
                f"no {self.name} images found under {root}; expected the layout: {self.layout_hint()}"
            )
        entries.sort(key=lambda e: (e.image_id, e.split))
        logger.debug("%s: %d images under %s", self.name, len(entries), root)
        for entry in entries:
            yield self._parse(entry, on_bad_record)

    @abstractmethod
    def _entries(self, root: Path) -> list[Entry]:
        """List the images of the layout (file names only, no parsing)."""

    @abstractmethod
    def _parse(self, entry: Entry, on_bad_record: OnBadRecord) -> SourceImage:
        """Parse one image's annotation."""

    @classmethod
    def layout_hint(cls) -> str:
        """One line describing the folder layouts the reader accepts."""
        return (cls.__doc__ or cls.format).strip().splitlines()[0]

    def image_size(
        self, path: Path, fallback: tuple[int, int] | None = None
    ) -> tuple[int | None, int | None]:
        """(width, height) from the image header, else ``fallback`` (e.g. the annotation's size)."""
        size = read_image_size(path) if self.read_sizes else None
        size = size or fallback
        return (size[0], size[1]) if size else (None, None)

    def make_image(self, entry: Entry, sink: RecordSink | None, **fields: Any) -> SourceImage:
        """A ``SourceImage`` for ``entry`` holding ``sink``'s objects and rejections."""
        return SourceImage(
            source=self.name,
            image_id=entry.image_id,
            split=entry.split,
            image_path=entry.image_path,
            annotation_path=entry.annotation_path,
            objects=tuple(sink.objects) if sink else (),
            rejected=tuple(sink.rejected) if sink else (),
            **fields,
        )


def _unique_ids(entries: list[Entry]) -> list[Entry]:
    """Qualify ids that repeat (e.g. torchgeo's P0000 in both train and val) with their qualifier."""
    counts = Counter(e.image_id for e in entries)
    out = [
        replace(e, image_id=f"{e.qualifier}_{e.image_id}") if counts[e.image_id] > 1 else e for e in entries
    ]
    dup = [k for k, n in Counter(e.image_id for e in out).items() if n > 1]
    if dup:
        raise MgrsBuilderError(f"image ids repeat within one source even after qualifying: {dup[:5]}")
    return out


def find_images(folder: Path, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> dict[str, Path]:
    """Map file stem -> path for the images directly inside ``folder`` (sorted, first suffix wins)."""
    found: dict[str, Path] = {}
    if not folder.is_dir():
        return found
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in suffixes:
            found.setdefault(path.stem, path)
    return found


def split_name(name: str, default: str = "train") -> str:
    """Canonical split of a folder name (``Train`` -> ``train``, ``validation`` -> ``val``)."""
    low = name.lower()
    if low == "validation":
        return "val"
    return low if low in KNOWN_SPLITS else default


def missing_image(entry: Entry, sink: RecordSink | None, on_bad_record: OnBadRecord) -> None:
    """An annotation whose image is absent: an error, or (skip mode) the record is still yielded.

    In skip mode the builder finds the missing file and rejects each of the image's objects as
    ``image_missing``, so no extra whole-file rejection is added here (it would count one phantom object).
    """
    problem = f"annotation {entry.annotation_path} has no image (looked for {entry.image_path})"
    if on_bad_record == "error" or sink is None:
        raise SourceNotFoundError(problem)
    logger.debug("%s", problem)


def register(cls: R) -> R:
    """Class decorator adding a reader to the registry under its ``name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise MgrsBuilderError(f"two readers registered as {cls.name!r}")
    _REGISTRY[cls.name] = cls
    return cls


def _load_all() -> None:
    importlib.import_module("mgrs_builder.sources")


def list_readers() -> list[type[SourceReader]]:
    """Every registered reader class, sorted by name."""
    _load_all()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def get_reader(name: str, **options: Any) -> SourceReader:
    """An instance of the reader called ``name`` (a ``NAME:label`` suffix is ignored)."""
    _load_all()
    base = name.split(":", 1)[0].strip().lower()
    if base not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise UnknownReaderError(f"no source reader named {name!r}; known readers: {known}")
    return _REGISTRY[base](**options)


class UnknownReaderError(MgrsBuilderError, KeyError):
    """``get_reader`` was given a name no reader is registered under."""

    def __str__(self) -> str:
        return self.args[0]
