"""Exception hierarchy of mgrs_builder: every error names the file, line or record at fault."""

from __future__ import annotations

from pathlib import Path


class MgrsBuilderError(Exception):
    """Root of all mgrs_builder errors."""


class SourceNotFoundError(MgrsBuilderError, FileNotFoundError):
    """A source root, image or annotation file is missing."""


class AnnotationParseError(MgrsBuilderError, ValueError):
    """An annotation file or one of its records cannot be parsed.

    The message always names the file, the 1-based line (or record index) and what was expected.
    """

    def __init__(self, path: str | Path, line: int | None, problem: str, expected: str | None = None):
        self.path = str(path)
        self.line = line
        self.problem = problem
        self.expected = expected
        where = f"{self.path}:{line}" if line is not None else self.path
        msg = f"{where}: {problem}"
        if expected:
            msg += f" (expected {expected})"
        super().__init__(msg)


class UnknownCategoryError(MgrsBuilderError, KeyError):
    """A source label that the vocabulary does not map and the user gave no mapping for."""

    def __init__(self, source: str, label: str, path: str | Path | None = None, line: int | None = None):
        self.source, self.label, self.path, self.line = source, label, path, line
        where = f" in {path}" + (f":{line}" if line is not None else "") if path is not None else ""
        super().__init__(
            f"unknown {source} label {label!r}{where}; pass a mapping for it (e.g. --map {source}:{label}=CANONICAL)"
        )

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]


class RecordValidationError(MgrsBuilderError, ValueError):
    """A built record breaks the schema or a geometric invariant."""


class SchemaMismatchError(MgrsBuilderError, ValueError):
    """Shards written with another schema version or layout."""
