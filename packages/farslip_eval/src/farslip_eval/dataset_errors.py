"""Errors raised for bad or missing evaluation data (shared by the dataset loaders)."""

from __future__ import annotations

from pathlib import Path


class DatasetError(ValueError):
    """A dataset file is malformed: names the file, the record and what was expected."""

    def __init__(self, path: Path | str, problem: str, *, record: int | str | None = None) -> None:
        self.path = Path(path)
        self.record = record
        self.problem = problem
        where = f"{self.path}" + (f" (record {record})" if record is not None else "")
        super().__init__(f"{where}: {problem}")


class DatasetNotFoundError(DatasetError):
    """A dataset's folder or one of its required files is absent under the data root."""


class UnknownDatasetError(KeyError):
    """A dataset name that is neither a built-in nor a discovered custom dataset."""

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0])
