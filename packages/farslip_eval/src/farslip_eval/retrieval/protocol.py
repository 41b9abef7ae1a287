"""Retrieval protocols: which images and texts are embedded and which pairs count as matches.

``farslip`` (SkyScript / FarSLIP ``tests/test_retrieval.py``, the published table)
    Unique image paths; captions prefixed with ``"a satellite image. "`` and identical strings merged
    into one text, which is a match for *every* image that carried it.
``clip_benchmark``
    One row per image and one text per caption (no prefix, duplicates kept), each text matching
    exactly its own image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from farslip_eval.retrieval.datasets import RetrievalData

FARSLIP_PREFIX = "a satellite image. "
PROTOCOLS: tuple[str, ...] = ("farslip", "clip_benchmark")


@dataclass(frozen=True)
class RetrievalIndex:
    """What gets embedded and the (texts x images) ground-truth matrix."""

    image_paths: list[Path]
    texts: list[str]
    positives: Tensor  # (T, I) bool
    protocol: str
    prefix: str


def build_index(data: RetrievalData, protocol: str = "farslip", prefix: str | None = None) -> RetrievalIndex:
    """Apply ``protocol`` (see the module docstring); ``prefix`` overrides the protocol's default."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown retrieval protocol {protocol!r}; expected one of {PROTOCOLS}")
    pre = (FARSLIP_PREFIX if protocol == "farslip" else "") if prefix is None else prefix
    image_index: dict[Path, int] = {}
    for item in data.items:
        image_index.setdefault(item.path, len(image_index))
    texts: list[str] = []
    pairs: list[tuple[int, int]] = []
    text_index: dict[str, int] = {}
    for item in data.items:
        img = image_index[item.path]
        for caption in item.captions:
            text = pre + caption
            if protocol == "farslip":
                t = text_index.setdefault(text, len(text_index))
                if t == len(texts):
                    texts.append(text)
            else:
                t = len(texts)
                texts.append(text)
            pairs.append((t, img))
    positives = torch.zeros(len(texts), len(image_index), dtype=torch.bool)
    if pairs:
        idx = torch.tensor(pairs)
        positives[idx[:, 0], idx[:, 1]] = True
    return RetrievalIndex(list(image_index), texts, positives, protocol, pre)
