"""The reader registry and the shared iteration rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from mgrs_builder.errors import MgrsBuilderError
from mgrs_builder.sources import SourceReader, UnknownReaderError, get_reader, list_readers

ALL_READERS = {
    "dota", "dior", "fair1m", "isaid", "xview", "nwpu_vhr10", "hrsc2016", "loveda", "potsdam", "vaihingen",
}  # fmt: skip


def test_registry_lists_every_reader() -> None:
    readers = list_readers()
    names = [r.name for r in readers]
    assert names == sorted(names) and set(names) == ALL_READERS
    for reader in readers:
        assert issubclass(reader, SourceReader)
        assert reader.task in ("detection", "instance", "segmentation")
        assert reader.format and len(set(reader.labels)) == len(reader.labels)


def test_get_reader_errors() -> None:
    with pytest.raises(UnknownReaderError, match="known readers: dior"):
        get_reader("dotaa")
    assert get_reader("dota:v1").name == "dota"
    with pytest.raises(MgrsBuilderError, match="unknown option"):
        get_reader("dota", colour="red")


def test_bad_mode_and_empty_root(tmp_path: Path) -> None:
    with pytest.raises(MgrsBuilderError, match="on_bad_record"):
        list(get_reader("dota").iter_images(tmp_path, on_bad_record="ignore"))  # type: ignore[arg-type]
    with pytest.raises(MgrsBuilderError, match="no dota images"):
        list(get_reader("dota").iter_images(tmp_path))
