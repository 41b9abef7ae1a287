"""One factory for progress bars: shown on an interactive terminal, silent in CI, pipes and tests."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")

_QUIET_ENV = ("CI", "TQDM_DISABLE", "MGRS_QUIET")


def progress_enabled(requested: bool = True) -> bool:
    """Whether bars should be drawn: requested, stderr is a TTY and no CI/quiet variable is set."""
    if not requested:
        return False
    if any(os.environ.get(name, "").strip() not in ("", "0", "false", "False") for name in _QUIET_ENV):
        return False
    return sys.stderr.isatty()


def progress_bar(iterable: Iterable[T] | None = None, *, total: int | None = None, desc: str = "",
                 unit: str = "it", enabled: bool = True, **kwargs: Any) -> tqdm:
    """A tqdm bar, disabled unless :func:`progress_enabled` says otherwise."""
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not progress_enabled(enabled),
                dynamic_ncols=True, leave=False, **kwargs)
