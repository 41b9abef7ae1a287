"""Batch assembly for :class:`farslip_model.data.TrainDataset` samples."""

from __future__ import annotations

from typing import Any

import torch

from farslip_model.views import Sample

Batch = dict[str, Any]


def collate(samples: list[Sample]) -> Batch:
    """Stack samples into a batch.

    Returns:
        ``images`` (B, 3, S, S), ``texts`` (B strings), ``crops`` (B, K, 3, S, S), ``boxes`` (B, K, 4),
        ``valid`` (B, K) bool, ``labels`` (B, K) int64 (-1 for padding / free-text regions),
        ``region_texts`` (B lists of K strings), ``keys`` (B strings), ``indices`` (B,) record ids.
    """
    if not samples:
        raise ValueError("cannot collate an empty list of samples")
    return {
        "images": torch.stack([s["image"] for s in samples]),
        "texts": [s["text"] for s in samples],
        "crops": torch.stack([s["crops"] for s in samples]),
        "boxes": torch.stack([s["boxes"] for s in samples]),
        "valid": torch.stack([s["valid"] for s in samples]),
        "labels": torch.stack([s["labels"] for s in samples]),
        "region_texts": [list(s["region_texts"]) for s in samples],
        "keys": [s["key"] for s in samples],
        "indices": torch.tensor([int(s.get("index", -1)) for s in samples], dtype=torch.long),
    }


def flat_region_texts(batch: Batch) -> list[str]:
    """The region texts of all B * K slots in row-major order (padding slots are "")."""
    return [t for texts in batch["region_texts"] for t in texts]
