"""Turn a :class:`RawRecord` into the training views of stage 1 or stage 2.

Stage 1 (``random_crops``): the whole image squashed to S x S plus K random crops (area 30-70 %,
aspect 3/4-4/3), each squashed to S x S, with boxes normalised to the source image.
Stage 2 (``objects``): the squashed image plus up to K annotated objects (shuffled, clipped, kept when
``min_side**2 <= area <= max_side**2``), region text "a satellite image of {category}" (or the
object's free-text caption, label -1), label = category id; padded to K with ``valid`` flags.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
import torch

from farslip_model.config import DataConfig
from farslip_model.sources import RawRecord
from farslip_model.transforms import (
    area_ok,
    clip_box,
    color_augment,
    normalize,
    normalized_box,
    pixel_box,
    sample_crop_box,
    squash,
)

Sample = dict[str, Any]


_DATA = DataConfig()  # the view defaults are the data config's: one source of truth


@dataclass(frozen=True)
class ViewConfig:
    """Everything :class:`ViewMaker` needs (taken from ``DataConfig`` and the model)."""

    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    mode: Literal["random_crops", "objects"] = _DATA.views
    caption: Literal["short", "long"] = _DATA.caption
    max_boxes: int = _DATA.max_boxes
    crop_area: tuple[float, float] = _DATA.crop_area
    crop_ratio: tuple[float, float] = _DATA.crop_ratio
    min_object_side: float = _DATA.min_object_side
    max_object_side: float = _DATA.max_object_side
    region_template: str = _DATA.region_template
    color_augment: bool = _DATA.color_augment

    @classmethod
    def from_data(cls, data: DataConfig, image_size: int, mean: tuple[float, float, float],
                  std: tuple[float, float, float]) -> ViewConfig:
        """The view settings of a ``DataConfig`` (its ``image_size`` wins over the model's when set)."""
        shared = {f.name: getattr(data, f.name) for f in fields(cls) if hasattr(data, f.name)}
        shared.pop("image_size", None)
        return cls(image_size=data.image_size or image_size, mean=mean, std=std, mode=data.views, **shared)


class ViewMaker:
    """Callable ``(record, rng) -> sample`` producing the tensors of one training sample.

    Sample keys: ``image`` (3, S, S); ``text`` (global caption); ``crops`` (K, 3, S, S); ``boxes``
    (K, 4) normalised x1, y1, x2, y2; ``valid`` (K,) bool; ``labels`` (K,) int64 (-1 when none);
    ``region_texts`` list of K strings ("" for padding); ``key``.
    """

    def __init__(self, config: ViewConfig) -> None:
        self.config = config

    def _finish(self, pixels: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        if self.config.color_augment:
            pixels = color_augment(pixels, rng)
        return normalize(pixels, self.config.mean, self.config.std)

    def caption(self, record: RawRecord) -> str:
        """The configured caption, falling back to the other one when it is empty."""
        first, second = (
            (record.caption_long, record.caption_short)
            if self.config.caption == "long"
            else (record.caption_short, record.caption_long)
        )
        text = first or second
        if not text:
            raise ValueError(f"record {record.key!r} in {record.origin}: no caption")
        return text

    def __call__(self, record: RawRecord, rng: np.random.Generator) -> Sample:
        cfg = self.config
        img = record.open_image()
        width, height = img.size
        size, k = cfg.image_size, cfg.max_boxes
        image = self._finish(squash(img, size), rng)
        crops = torch.zeros(k, 3, size, size)
        boxes = torch.zeros(k, 4)
        valid = torch.zeros(k, dtype=torch.bool)
        labels = torch.full((k,), -1, dtype=torch.long)
        region_texts = [""] * k
        if cfg.mode == "random_crops":
            for i in range(k):
                box = sample_crop_box(width, height, rng, cfg.crop_area, cfg.crop_ratio)
                crops[i] = self._finish(squash(img.crop(box), size), rng)
                boxes[i] = normalized_box(box, width, height)
                valid[i] = True
        else:
            n = 0
            for j in rng.permutation(len(record.objects)) if record.objects else ():
                if n == k:
                    break
                obj = record.objects[int(j)]
                box = clip_box(obj.bbox, width, height)
                if not area_ok(box, cfg.min_object_side, cfg.max_object_side):
                    continue
                pbox = pixel_box(box, width, height)
                crops[n] = self._finish(squash(img.crop(pbox), size), rng)
                boxes[n] = normalized_box(box, width, height)
                valid[n] = True
                labels[n] = obj.category_id if obj.caption is None else -1
                region_texts[n] = obj.caption or cfg.region_template.format(category=obj.category)
                n += 1
        return {
            "image": image,
            "text": self.caption(record),
            "crops": crops,
            "boxes": boxes,
            "valid": valid,
            "labels": labels,
            "region_texts": region_texts,
            "key": record.key,
        }
