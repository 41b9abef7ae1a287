"""The 80 ImageNet templates and the class-name file parser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from farslip_eval.templates import (
    OPENAI_IMAGENET_TEMPLATES,
    ClassFileError,
    fill_templates,
    parse_class_names,
    read_class_file,
)


def test_templates_equal_clip_benchmark_imagenet1k(shared_fixtures: Path) -> None:
    path = shared_fixtures / "clip_benchmark/clip_benchmark/datasets/en_zeroshot_classification_templates.json"
    reference = json.loads(path.read_text(encoding="utf-8"))["imagenet1k"]
    assert len(OPENAI_IMAGENET_TEMPLATES) == 80
    assert list(OPENAI_IMAGENET_TEMPLATES) == reference


def test_fill_templates() -> None:
    assert fill_templates(("a photo of a {c}.", "itap of my {c}."), "road") == ["a photo of a road.", "itap of my road."]


def test_parse_synonyms_and_trailing_newline() -> None:
    text = "background\nbuilding, roof,house\nroad"
    assert parse_class_names(text) == [("background",), ("building", "roof", "house"), ("road",)]
    assert parse_class_names(text + "\n") == parse_class_names(text)


@pytest.mark.parametrize(
    ("text", "where"),
    [("a\n\nb", "x.txt:2"), ("a\nb\n \n", "x.txt:3"), ("a\nb,,c", "x.txt:2"), ("", "x.txt")],
)
def test_empty_lines_are_rejected_with_file_and_line(text: str, where: str) -> None:
    with pytest.raises(ClassFileError, match=where.replace(".", r"\.")):
        parse_class_names(text, source="x.txt")


def test_read_class_file_names_the_path(tmp_path: Path) -> None:
    f = tmp_path / "cls.txt"
    f.write_text("water\n\nroad", encoding="utf-8")
    with pytest.raises(ClassFileError, match=r"cls\.txt:2: empty line"):
        read_class_file(f)
    with pytest.raises(ClassFileError, match="not found"):
        read_class_file(tmp_path / "missing.txt")
