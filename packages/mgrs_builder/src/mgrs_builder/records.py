"""Typed records that source readers yield and the builder consumes.

Readers parse; they do not filter. Every object of the source appears either as a ``SourceObject``
or as a ``Rejection`` (in ``--on-bad-record skip`` mode), so the builder can account for all of them.
Coordinates are in source-image pixels, x to the right, y down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

OnBadRecord = Literal["error", "skip"]


@dataclass(frozen=True)
class SourceObject:
    """One annotated object as the source states it.

    ``polygon`` is the exterior ring, without repeating the first point: four corners for an oriented
    box (DOTA order kept), four axis-aligned corners for a horizontal box, many for a mask region.
    ``label`` is the source's own label, verbatim (mapped to the shared vocabulary by the builder).
    ``line`` is the 1-based line in the annotation file, or the record index for JSON/XML/mask sources.
    """

    polygon: tuple[tuple[float, float], ...]
    label: str
    difficult: bool = False
    line: int | None = None
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rejection:
    """An object (or whole annotation line) that could not be read, with its reason and location."""

    reason: str
    path: str
    line: int | None = None
    detail: str = ""


@dataclass(frozen=True)
class SourceImage:
    """One source scene with its objects.

    ``width``/``height`` are None when only the image itself can tell (the builder reads the header).
    ``annotation_path`` is None for images that have no annotation file at all.
    """

    source: str
    image_id: str
    split: str
    image_path: Path
    annotation_path: Path | None
    objects: tuple[SourceObject, ...]
    width: int | None = None
    height: int | None = None
    gsd: float | None = None
    rejected: tuple[Rejection, ...] = ()
    meta: dict[str, str] = field(default_factory=dict)
