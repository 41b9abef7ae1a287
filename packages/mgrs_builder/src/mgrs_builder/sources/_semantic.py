"""Shared parsing for semantic-segmentation sources: label mask -> one object per connected region."""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import ClassVar

import numpy as np

from mgrs_builder.records import OnBadRecord, SourceImage, SourceObject
from mgrs_builder.sources._masks import exterior, regions
from mgrs_builder.sources.base import Entry, RecordSink, SourceReader


class SemanticMaskReader(SourceReader):
    """Base of LoveDA / Potsdam / Vaihingen. Subclasses turn a mask file into class indices.

    Pixels of no class (no-data, eroded boundaries) are not objects and are skipped. Each 4-connected
    region of one class becomes one ``SourceObject`` whose polygon is the region's outer boundary
    (holes are counted in ``attributes['holes']``; the pixel area in ``attributes['area_px']``).
    Objects are numbered (``line``) in the raster order of their regions, class by class.
    """

    task = "segmentation"
    class_names: ClassVar[tuple[str, ...]]  # index -> label; "" for indices that are not objects

    @abstractmethod
    def _class_index(self, mask_path: Path, sink: RecordSink, meta: dict[str, str]) -> np.ndarray | None:
        """(H, W) int32 class indices, -1 where no class applies; None if the mask is unusable.
        Notes about the mask go into ``meta`` (the image's ``meta``)."""

    def _parse(self, entry: Entry, on_bad_record: OnBadRecord) -> SourceImage:
        width, height = self.image_size(entry.image_path)
        if entry.annotation_path is None:
            return self.make_image(entry, None, width=width, height=height, meta=dict(entry.extra))
        sink = RecordSink(entry.annotation_path, on_bad_record)
        meta = dict(entry.extra)
        index = self._class_index(entry.annotation_path, sink, meta)
        if index is not None:
            if width is not None and (width, height) != (index.shape[1], index.shape[0]):
                problem = f"mask is {index.shape[1]}x{index.shape[0]} but the image is {width}x{height}"
                sink.bad(None, problem, "a mask of the image's size", reason="mask_mismatch")
            valid = index >= 0
            grouped = regions(np.where(valid, index, 0), valid)
            line = 0
            for cls in sorted(grouped):
                for poly in grouped[cls]:
                    line += 1
                    attrs = {"area_px": str(int(round(poly.area)))}
                    if poly.interiors:
                        attrs["holes"] = str(len(poly.interiors))
                    label = self.class_names[cls]
                    sink.add(SourceObject(polygon=exterior(poly), label=label, line=line, attributes=attrs))
        return self.make_image(entry, sink, width=width, height=height, meta=meta)
