"""Zero-shot classification: prompt-averaged class embeddings, 100 x cosine logits, top-k metrics."""

from __future__ import annotations

import logging
import time
from typing import Any

import torch
from torch import Tensor

from farslip_eval.metrics.classification import classification_metrics
from farslip_eval.zeroshot.datasets import ClassificationData
from farslip_eval.zeroshot.images import encode_image_files

log = logging.getLogger(__name__)

LOGIT_SCALE: float = 100.0


def class_embeddings(encoder: Any, classnames: list[str], templates: tuple[str, ...]) -> Tensor:
    """(C, D): per class, normalise each prompt embedding, average, renormalise (CLIP_benchmark order)."""
    prompts = [t.replace("{c}", c) for c in classnames for t in templates]
    with torch.inference_mode():
        emb = encoder.encode_texts(prompts).float().cpu()
    emb = torch.nn.functional.normalize(emb, dim=-1).view(len(classnames), len(templates), -1).mean(dim=1)
    return torch.nn.functional.normalize(emb, dim=-1)


def evaluate_classification(encoder: Any, data: ClassificationData, templates: tuple[str, ...], *,
                            batch_size: int = 32, device: str = "cpu", workers: int = 0,
                            progress: bool = False) -> tuple[dict[str, object], dict[str, float]]:
    """Metrics (interfaces 3.2, percent) and timings in seconds for one dataset."""
    t0 = time.perf_counter()
    weights = class_embeddings(encoder, data.classnames, templates)
    t1 = time.perf_counter()
    feats = encode_image_files(encoder, [p for p, _ in data.samples], batch_size=batch_size, device=device,
                               workers=workers, progress=progress, desc=f"zeroshot {data.name}")
    t2 = time.perf_counter()
    logits = LOGIT_SCALE * feats @ weights.T
    targets = torch.tensor([label for _, label in data.samples], dtype=torch.long)
    metrics = classification_metrics(logits, targets, data.classnames)
    log.info("zeroshot %s: top1 %.2f over %d images", data.name, metrics["top1"] or float("nan"),
             len(targets))
    timings = {"encode_text_s": t1 - t0, "encode_images_s": t2 - t1, "total_s": time.perf_counter() - t0}
    return metrics, timings
