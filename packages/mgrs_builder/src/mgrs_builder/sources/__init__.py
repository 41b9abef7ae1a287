"""Source readers: one module per public dataset, each registered under its ``name``.

Importing this package registers every reader; use ``get_reader`` / ``list_readers``.
"""

from mgrs_builder.sources import (  # noqa: F401  (importing registers the readers)
    dior,
    dota,
    fair1m,
    hrsc2016,
    isaid,
    loveda,
    nwpu_vhr10,
    potsdam,
    vaihingen,
    xview,
)
from mgrs_builder.sources.base import (
    Entry,
    SourceReader,
    UnknownReaderError,
    get_reader,
    list_readers,
    register,
)

__all__ = ["Entry", "SourceReader", "UnknownReaderError", "get_reader", "list_readers", "register"]
