"""Prompt templates and class-name files (one line per class id, comma-separated synonyms)."""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "OPENAI_IMAGENET_TEMPLATES",
    "ClassFileError",
    "fill_templates",
    "parse_class_names",
    "read_class_file",
]

#: The 80 OpenAI ImageNet prompt templates, in CLIP_benchmark's ``imagenet1k`` order
#: (also SegEarth-OV's ``openai_imagenet_template``). ``{c}`` is the class name.
OPENAI_IMAGENET_TEMPLATES: tuple[str, ...] = (
    "a bad photo of a {c}.",
    "a photo of many {c}.",
    "a sculpture of a {c}.",
    "a photo of the hard to see {c}.",
    "a low resolution photo of the {c}.",
    "a rendering of a {c}.",
    "graffiti of a {c}.",
    "a bad photo of the {c}.",
    "a cropped photo of the {c}.",
    "a tattoo of a {c}.",
    "the embroidered {c}.",
    "a photo of a hard to see {c}.",
    "a bright photo of a {c}.",
    "a photo of a clean {c}.",
    "a photo of a dirty {c}.",
    "a dark photo of the {c}.",
    "a drawing of a {c}.",
    "a photo of my {c}.",
    "the plastic {c}.",
    "a photo of the cool {c}.",
    "a close-up photo of a {c}.",
    "a black and white photo of the {c}.",
    "a painting of the {c}.",
    "a painting of a {c}.",
    "a pixelated photo of the {c}.",
    "a sculpture of the {c}.",
    "a bright photo of the {c}.",
    "a cropped photo of a {c}.",
    "a plastic {c}.",
    "a photo of the dirty {c}.",
    "a jpeg corrupted photo of a {c}.",
    "a blurry photo of the {c}.",
    "a photo of the {c}.",
    "a good photo of the {c}.",
    "a rendering of the {c}.",
    "a {c} in a video game.",
    "a photo of one {c}.",
    "a doodle of a {c}.",
    "a close-up photo of the {c}.",
    "a photo of a {c}.",
    "the origami {c}.",
    "the {c} in a video game.",
    "a sketch of a {c}.",
    "a doodle of the {c}.",
    "a origami {c}.",
    "a low resolution photo of a {c}.",
    "the toy {c}.",
    "a rendition of the {c}.",
    "a photo of the clean {c}.",
    "a photo of a large {c}.",
    "a rendition of a {c}.",
    "a photo of a nice {c}.",
    "a photo of a weird {c}.",
    "a blurry photo of a {c}.",
    "a cartoon {c}.",
    "art of a {c}.",
    "a sketch of the {c}.",
    "a embroidered {c}.",
    "a pixelated photo of a {c}.",
    "itap of the {c}.",
    "a jpeg corrupted photo of the {c}.",
    "a good photo of a {c}.",
    "a plushie {c}.",
    "a photo of the nice {c}.",
    "a photo of the small {c}.",
    "a photo of the weird {c}.",
    "the cartoon {c}.",
    "art of the {c}.",
    "a drawing of the {c}.",
    "a photo of the large {c}.",
    "a black and white photo of a {c}.",
    "the plushie {c}.",
    "a dark photo of a {c}.",
    "itap of a {c}.",
    "graffiti of the {c}.",
    "a toy {c}.",
    "itap of my {c}.",
    "a photo of a cool {c}.",
    "a photo of a small {c}.",
    "a tattoo of the {c}.",
)


class ClassFileError(ValueError):
    """A class-name file that does not follow the one-class-per-line format."""


def fill_templates(templates: tuple[str, ...] | list[str], name: str) -> list[str]:
    """Fill ``{c}`` in each template with ``name`` (plain replace: other braces stay literal)."""
    return [t.replace("{c}", name) for t in templates]


def parse_class_names(text: str, source: str = "<string>") -> list[tuple[str, ...]]:
    """Parse SegEarth-OV class-name text: line i = class id i, synonyms separated by commas.

    A trailing newline at the end of the file is allowed (the reference files have none). An empty
    line, or an empty synonym (``a,,b``), raises :class:`ClassFileError` naming ``source:line``.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise ClassFileError(f"{source}: no class names (expected one line per class id)")
    classes: list[tuple[str, ...]] = []
    for lineno, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            raise ClassFileError(
                f"{source}:{lineno}: empty line (expected class names, comma-separated synonyms; "
                "every line is a class id, so blank lines would shift the ids)"
            )
        names = tuple(part.strip() for part in line.split(","))
        if any(not n for n in names):
            raise ClassFileError(f"{source}:{lineno}: empty synonym in {line!r}")
        classes.append(names)
    return classes


def read_class_file(path: str | Path) -> list[tuple[str, ...]]:
    """Read and parse a class-name file (UTF-8)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ClassFileError(f"{p}: class-name file not found") from None
    return parse_class_names(text, source=str(p))
