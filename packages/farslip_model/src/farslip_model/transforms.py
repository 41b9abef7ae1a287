"""Pixel and box operations for the training views, driven by an explicit numpy ``Generator``.

Randomness never comes from global state: each sample gets its own generator (seeded by run seed,
epoch and record id), so a sample's views are the same on any rank, worker or resumed run.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torchvision.transforms.functional as TF
from PIL import Image
from torch import Tensor

Box = tuple[float, float, float, float]

# Spec 3.4: ColorJitter(0.4, 0.4, 0.2, 0.1) with p=0.8, then RandomGrayscale(p=0.2).
JITTER_BRIGHTNESS = 0.4
JITTER_CONTRAST = 0.4
JITTER_SATURATION = 0.2
JITTER_HUE = 0.1
JITTER_P = 0.8
GRAYSCALE_P = 0.2


def squash(img: Image.Image, size: int) -> Tensor:
    """Resize to ``size`` x ``size`` ignoring the aspect ratio (bicubic), as (3, S, S) floats in [0, 1]."""
    resized = img.resize((size, size), Image.Resampling.BICUBIC)
    return TF.pil_to_tensor(resized).float().div_(255.0)


def normalize(x: Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> Tensor:
    """Channel-wise (x - mean) / std."""
    return TF.normalize(x, list(mean), list(std))


def color_augment(x: Tensor, rng: np.random.Generator) -> Tensor:
    """Colour jitter with probability 0.8 (the four adjustments in random order), then grayscale
    with probability 0.2; ``x`` is (3, H, W) in [0, 1]."""
    if rng.random() < JITTER_P:
        factors = {
            "brightness": rng.uniform(1 - JITTER_BRIGHTNESS, 1 + JITTER_BRIGHTNESS),
            "contrast": rng.uniform(1 - JITTER_CONTRAST, 1 + JITTER_CONTRAST),
            "saturation": rng.uniform(1 - JITTER_SATURATION, 1 + JITTER_SATURATION),
            "hue": rng.uniform(-JITTER_HUE, JITTER_HUE),
        }
        for op in rng.permutation(4):
            if op == 0:
                x = TF.adjust_brightness(x, float(factors["brightness"]))
            elif op == 1:
                x = TF.adjust_contrast(x, float(factors["contrast"]))
            elif op == 2:
                x = TF.adjust_saturation(x, float(factors["saturation"]))
            else:
                x = TF.adjust_hue(x, float(factors["hue"]))
    if rng.random() < GRAYSCALE_P:
        x = TF.rgb_to_grayscale(x, num_output_channels=3)
    return x


def sample_crop_box(
    width: int,
    height: int,
    rng: np.random.Generator,
    area: tuple[float, float] = (0.3, 0.7),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    attempts: int = 10,
) -> tuple[int, int, int, int]:
    """A RandomResizedCrop-style integer box (x1, y1, x2, y2): area fraction uniform in ``area``,
    aspect ratio log-uniform in ``ratio``; after ``attempts`` misses, the largest box of the middle
    ratio that fits, centred."""
    total = width * height
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(attempts):
        target = total * rng.uniform(area[0], area[1])
        r = math.exp(rng.uniform(log_lo, log_hi))
        w = int(round(math.sqrt(target * r)))
        h = int(round(math.sqrt(target / r)))
        if 0 < w <= width and 0 < h <= height:
            x1 = int(rng.integers(0, width - w + 1))
            y1 = int(rng.integers(0, height - h + 1))
            return x1, y1, x1 + w, y1 + h
    frac = math.sqrt((area[0] + area[1]) / 2)
    w, h = max(1, int(round(width * frac))), max(1, int(round(height * frac)))
    x1, y1 = (width - w) // 2, (height - h) // 2
    return x1, y1, x1 + w, y1 + h


def clip_box(box: Box, width: int, height: int) -> Box:
    """Clip x1, y1, x2, y2 to the image."""
    x1, y1, x2, y2 = box
    return (
        min(max(x1, 0.0), width),
        min(max(y1, 0.0), height),
        min(max(x2, 0.0), width),
        min(max(y2, 0.0), height),
    )


def pixel_box(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """The integer pixel box covering ``box`` (floor the start, ceil the end), inside the image."""
    x1, y1, x2, y2 = clip_box(box, width, height)
    ix1, iy1 = int(math.floor(x1)), int(math.floor(y1))
    ix2, iy2 = max(int(math.ceil(x2)), ix1 + 1), max(int(math.ceil(y2)), iy1 + 1)
    return ix1, iy1, min(ix2, width), min(iy2, height)


def normalized_box(box: tuple[int, int, int, int] | Box, width: int, height: int) -> Tensor:
    """x1, y1, x2, y2 divided by the image size: (4,) floats in [0, 1]."""
    x1, y1, x2, y2 = box
    return torch.tensor([x1 / width, y1 / height, x2 / width, y2 / height], dtype=torch.float32)


def area_ok(box: Box, min_side: float, max_side: float) -> bool:
    """The reference object filter: ``min_side**2 <= area <= max_side**2`` (and a non-empty box)."""
    w, h = box[2] - box[0], box[3] - box[1]
    if w <= 0 or h <= 0:
        return False
    return min_side**2 <= w * h <= max_side**2
