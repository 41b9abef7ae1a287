"""The shared category vocabulary: canonical names, stable ids, synonyms and per-source label tables.

Canonical names are lower case and space separated ("small vehicle", "storage tank"). Ids are stable
and append-only (the table lives in ``categories.json`` beside this module). A source label resolves
in this order:

1. a user mapping for ``(source, label)`` (``Vocabulary.with_mapping``);
2. the source's own table (``sources`` in ``categories.json``);
3. a canonical name or synonym, compared after normalisation (case, ``_``/``-`` as spaces) and then
   also with spaces removed (so DIOR's ``storagetank`` finds "storage tank").

Anything else raises ``UnknownCategoryError`` naming the label, file and line.

Non-object classes: no-data pixels (LoveDA 0, the black eroded boundaries of ISPRS labels) are never
emitted by the readers. Background-like regions (LoveDA "background", ISPRS "clutter") resolve to the
canonical "background", which the builder may drop by rule. FAIR1M's "other-airplane/ship/vehicle"
resolve to the coarse "plane", "ship", "vehicle".
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from mgrs_builder.errors import MgrsBuilderError, UnknownCategoryError

logger = logging.getLogger(__name__)

DATA_FILE = "categories.json"
_SPACES = re.compile(r"\s+")


def normalize_label(label: str) -> str:
    """Lower case, ``_`` and ``-`` read as spaces, runs of white space collapsed."""
    return _SPACES.sub(" ", label.replace("_", " ").replace("-", " ").strip().lower()).strip()


def _compact(label: str) -> str:
    return normalize_label(label).replace(" ", "")


@dataclass(frozen=True)
class Category:
    """One canonical category. ``parent`` is a coarser canonical name (e.g. "boeing 737" -> "plane")."""

    name: str
    id: int
    parent: str | None = None
    synonyms: tuple[str, ...] = ()


class Vocabulary:
    """Canonical categories plus the tables that map each source's labels onto them."""

    def __init__(
        self,
        categories: list[Category],
        source_tables: Mapping[str, Mapping[str, str]] | None = None,
        user_mapping: Mapping[tuple[str, str], str] | None = None,
    ):
        self._cats = sorted(categories, key=lambda c: c.id)
        self._by_name = {c.name: c for c in self._cats}
        self._check()
        self._tables = {
            src: {normalize_label(k): v for k, v in table.items()}
            for src, table in (source_tables or {}).items()
        }
        for src, table in self._tables.items():
            for label, target in table.items():
                if target not in self._by_name:
                    problem = f"source table {src!r} maps {label!r} to unknown category {target!r}"
                    raise MgrsBuilderError(problem)
        self._user = {(s.lower(), normalize_label(lbl)): t for (s, lbl), t in (user_mapping or {}).items()}
        self._lookup: dict[str, Category] = {}
        self._compact_lookup: dict[str, Category] = {}
        for cat in self._cats:
            for word in (cat.name, *cat.synonyms):
                self._lookup.setdefault(normalize_label(word), cat)
                self._compact_lookup.setdefault(_compact(word), cat)

    def _check(self) -> None:
        ids = [c.id for c in self._cats]
        if len(set(ids)) != len(ids):
            raise MgrsBuilderError("category ids repeat in the vocabulary")
        if len(self._by_name) != len(self._cats):
            raise MgrsBuilderError("category names repeat in the vocabulary")
        for cat in self._cats:
            if cat.name != normalize_label(cat.name):
                raise MgrsBuilderError(f"canonical name {cat.name!r} is not lower case and space separated")
            if cat.parent is not None and cat.parent not in self._by_name:
                raise MgrsBuilderError(f"category {cat.name!r} has unknown parent {cat.parent!r}")

    @classmethod
    def default(cls) -> Vocabulary:
        """The packaged vocabulary (``categories.json``)."""
        return _default()

    @classmethod
    def from_json(cls, path: Path | str) -> Vocabulary:
        """A vocabulary from a JSON file in the layout of the packaged ``categories.json``."""
        return cls._from_dict(json.loads(Path(path).read_text(encoding="utf-8")), str(path))

    @classmethod
    def _from_dict(cls, data: dict[str, Any], origin: str) -> Vocabulary:
        try:
            cats = [
                Category(str(c["name"]), int(c["id"]), c.get("parent"), tuple(c.get("synonyms", ())))
                for c in data["categories"]
            ]
        except (KeyError, TypeError, ValueError) as exc:
            problem = f"{origin}: bad category entry ({exc}); expected name, id, parent, synonyms"
            raise MgrsBuilderError(problem) from exc
        return cls(cats, data.get("sources", {}))

    def resolve(
        self, source: str, label: str, path: Path | str | None = None, line: int | None = None
    ) -> Category:
        """The canonical category of ``source``'s raw ``label`` (a ``NAME:tag`` source suffix is ignored)."""
        src = source.split(":", 1)[0].strip().lower()
        key = normalize_label(label)
        target = self._user.get((src, key)) or self._tables.get(src, {}).get(key)
        if target is not None:
            return self._by_name[target]
        cat = self._lookup.get(key) or self._compact_lookup.get(key.replace(" ", ""))
        if cat is None:
            raise UnknownCategoryError(src, label, path, line)
        return cat

    def with_mapping(self, mapping: Mapping[tuple[str, str], str]) -> Vocabulary:
        """A copy with user ``(source, label) -> canonical`` mappings on top.

        A target that is not yet a category (after normalisation) is appended as a new category,
        new names sorted, ids continuing from the current maximum, so the result is deterministic.
        """
        norm = {(s.split(":", 1)[0].strip(), lbl): normalize_label(t) for (s, lbl), t in mapping.items()}
        if any(not t for t in norm.values()):
            raise MgrsBuilderError("a user mapping has an empty target category name")
        cats = list(self._cats)
        next_id = max((c.id for c in cats), default=-1) + 1
        for name in sorted({t for t in norm.values() if t not in self._by_name}):
            logger.info("user mapping adds category %r with id %d", name, next_id)
            cats.append(Category(name, next_id))
            next_id += 1
        tables = {s: dict(t) for s, t in self._tables.items()}
        user = dict(self._user)
        user.update({(s.lower(), normalize_label(lbl)): t for (s, lbl), t in norm.items()})
        return Vocabulary(cats, tables, user)

    def by_name(self, name: str) -> Category:
        """The category whose canonical name (or synonym) is ``name``."""
        cat = self._by_name.get(name) or self._lookup.get(normalize_label(name))
        if cat is None:
            raise UnknownCategoryError("vocabulary", name)
        return cat

    def by_id(self, category_id: int) -> Category:
        """The category with this id."""
        for cat in self._cats:
            if cat.id == category_id:
                return cat
        raise MgrsBuilderError(f"no category with id {category_id}")

    def source_table(self, source: str) -> dict[str, str]:
        """The (normalised label -> canonical name) table of one source."""
        return dict(self._tables.get(source, {}))

    def to_manifest(self) -> list[dict[str, Any]]:
        """``[{"name", "id", "parent"}]`` as written into ``manifest.json``."""
        return [{"name": c.name, "id": c.id, "parent": c.parent} for c in self._cats]

    def __iter__(self) -> Iterator[Category]:
        return iter(self._cats)

    def __len__(self) -> int:
        return len(self._cats)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._by_name


@cache
def _default() -> Vocabulary:
    text = resources.files("mgrs_builder").joinpath(DATA_FILE).read_text(encoding="utf-8")
    return Vocabulary._from_dict(json.loads(text), DATA_FILE)
