"""Small helpers for the XML annotation formats (DIOR, FAIR1M, HRSC2016)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from mgrs_builder.sources.base import RecordSink


def parse_xml(path: Path, sink: RecordSink) -> ET.Element | None:
    """The root element, or None after reporting a syntax error (file and line) to ``sink``."""
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as exc:
        expected = "a well-formed XML annotation"
        sink.bad(exc.position[0], f"invalid XML: {exc}", expected, reason="malformed_file")
        return None


def child_text(elem: ET.Element, path: str) -> str | None:
    """Stripped text of the first ``path`` under ``elem``, or None when absent or empty."""
    found = elem.find(path)
    if found is None or found.text is None or not found.text.strip():
        return None
    return found.text.strip()


def child_float(elem: ET.Element, path: str) -> float:
    """Float value of ``path`` under ``elem``; ValueError naming the tag when missing or not numeric."""
    text = child_text(elem, path)
    if text is None:
        raise ValueError(f"<{path}> missing")
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"<{path}> is {text!r}, not a number") from None


def xml_size(
    root: ET.Element, width_tag: str = "size/width", height_tag: str = "size/height"
) -> tuple[int, int] | None:
    """(width, height) stated in the annotation, if both are positive integers."""
    try:
        w, h = int(float(child_text(root, width_tag) or 0)), int(float(child_text(root, height_tag) or 0))
    except ValueError:
        return None
    return (w, h) if w > 0 and h > 0 else None
