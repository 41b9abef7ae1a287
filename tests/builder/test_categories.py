"""The shared vocabulary: stable ids, synonyms, per-source tables, user mappings, unknown labels."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from mgrs_builder.categories import Category, Vocabulary, normalize_label
from mgrs_builder.errors import UnknownCategoryError
from mgrs_builder.sources import list_readers

# Pinned ids: ids are append-only, so these must never change.
PINNED = {"plane": 0, "small vehicle": 4, "ship": 6, "storage tank": 9, "boeing 737": 28, "building": 91,
          "background": 109}  # fmt: skip


def test_ids_stable_unique_and_names_canonical() -> None:
    vocab = Vocabulary.default()
    for name, cid in PINNED.items():
        assert vocab.by_name(name).id == cid
    ids = [c.id for c in vocab]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) == len(vocab)
    assert ids == list(range(len(vocab)))  # appended without gaps so far
    for cat in vocab:
        assert cat.name == normalize_label(cat.name)
        assert cat.parent is None or cat.parent in vocab


def test_synonyms_do_not_clash() -> None:
    seen: dict[str, str] = {}
    for cat in Vocabulary.default():
        for word in (cat.name, *cat.synonyms):
            key = normalize_label(word)
            owner = seen.setdefault(key, cat.name)
            assert owner == cat.name, f"{word!r} names both {owner!r} and {cat.name!r}"


def test_every_reader_label_resolves() -> None:
    vocab = Vocabulary.default()
    readers = list_readers()
    assert readers, "no readers registered"
    for reader in readers:
        assert reader.labels, reader.name
        for label in reader.labels:
            cat = vocab.resolve(reader.name, label)
            assert isinstance(cat, Category) and cat.name in vocab


def test_source_tables_cover_only_known_targets() -> None:
    data = json.loads(resources.files("mgrs_builder").joinpath("categories.json").read_text())
    names = {c["name"] for c in data["categories"]}
    for source, table in data["sources"].items():
        assert set(table.values()) <= names, source


@pytest.mark.parametrize(
    ("source", "label", "expected", "parent"),
    [
        ("dota", "small-vehicle", "small vehicle", "vehicle"),
        ("dota:v1", "storage-tank", "storage tank", None),
        ("dior", "storagetank", "storage tank", None),
        ("dior", "Expressway-Service-area", "expressway service area", None),
        ("dior", "expresswayservicearea", "expressway service area", None),
        ("dior", "golffield", "golf course", None),
        ("dior", "airplane", "plane", None),
        ("fair1m", "Boeing737", "boeing 737", "plane"),
        ("fair1m", "Liquid Cargo Ship", "liquid cargo ship", "ship"),
        ("fair1m", "other-airplane", "plane", None),
        ("isaid", "Ground_Track_Field", "ground track field", None),
        ("isaid", "Small_Vehicle", "small vehicle", "vehicle"),
        ("xview", "Passenger Car", "railway passenger car", "railway vehicle"),
        ("xview", "Truck w/Box", "box truck", "large vehicle"),
        ("potsdam", "clutter", "background", None),
        ("loveda", "background", "background", None),
        ("some_new_source", "Storage_Tank", "storage tank", None),
        ("some_new_source", "basketballcourt", "basketball court", None),
    ],
)
def test_resolve(source: str, label: str, expected: str, parent: str | None) -> None:
    cat = Vocabulary.default().resolve(source, label)
    assert (cat.name, cat.parent) == (expected, parent)


def test_unknown_label_names_label_file_and_line() -> None:
    with pytest.raises(UnknownCategoryError) as err:
        Vocabulary.default().resolve("dota", "spaceship", path=Path("a/P1.txt"), line=7)
    msg = str(err.value)
    assert "'spaceship'" in msg and "a/P1.txt:7" in msg and "dota" in msg
    assert err.value.label == "spaceship" and err.value.line == 7


def test_user_mapping_overrides_and_appends() -> None:
    base = Vocabulary.default()
    vocab = base.with_mapping({("dota", "spaceship"): "Space Ship", ("dior", "vehicle"): "small vehicle"})
    assert vocab.resolve("dota", "spaceship").name == "space ship"
    assert vocab.resolve("dota", "spaceship").id == len(base)
    assert vocab.resolve("dior", "vehicle").name == "small vehicle"
    assert base.resolve("dior", "vehicle").name == "vehicle"  # the original is unchanged
    assert len(vocab) == len(base) + 1
    again = vocab.with_mapping({("xview", "Pylon"): "tower"})
    assert again.resolve("dota", "spaceship").id == len(base)
    assert again.resolve("xview", "Pylon").name == "tower"


def test_manifest_listing() -> None:
    listing = Vocabulary.default().to_manifest()
    assert listing[0] == {"name": "plane", "id": 0, "parent": None}
    assert {"name": "boeing 737", "id": 28, "parent": "plane"} in listing
