"""Zero-shot retrieval: embed images and texts once, cosine scores, R@1/5/10 both ways."""

from __future__ import annotations

import logging
import time
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from farslip_eval.metrics.retrieval import retrieval_metrics
from farslip_eval.retrieval.datasets import RetrievalData
from farslip_eval.retrieval.protocol import build_index
from farslip_eval.zeroshot.images import encode_image_files

log = logging.getLogger(__name__)


def encode_texts_batched(encoder: Any, texts: list[str], batch_size: int = 256, progress: bool = False,
                         desc: str = "texts") -> Tensor:
    """L2-normalised text embeddings ``(T, D)`` in batches."""
    chunks = []
    with torch.inference_mode():
        for start in tqdm(range(0, len(texts), batch_size), desc=desc, disable=not progress, leave=False):
            chunks.append(encoder.encode_texts(texts[start:start + batch_size]).float().cpu())
    return torch.cat(chunks)


def evaluate_retrieval(
    encoder: Any, data: RetrievalData, *, protocol: str = "farslip", prefix: str | None = None,
    batch_size: int = 32, device: str = "cpu", workers: int = 0, progress: bool = False,
) -> tuple[dict[str, object], dict[str, float], dict[str, object]]:
    """Metrics (percent), timings (s) and the protocol facts (counts, prefix) for one dataset."""
    t0 = time.perf_counter()
    index = build_index(data, protocol, prefix)
    img = encode_image_files(encoder, index.image_paths, batch_size=batch_size, device=device,
                             workers=workers, progress=progress, desc=f"retrieval {data.name} images")
    t1 = time.perf_counter()
    txt = encode_texts_batched(encoder, index.texts, batch_size=max(batch_size, 64), progress=progress,
                               desc=f"retrieval {data.name} texts")
    t2 = time.perf_counter()
    metrics: dict[str, object] = dict(retrieval_metrics(txt @ img.T, index.positives))
    facts: dict[str, object] = {
        "retrieval_protocol": protocol, "caption_prefix": index.prefix, "num_images": len(index.image_paths),
        "num_texts": len(index.texts), "num_captions": data.num_captions,
        "dedup_texts": protocol == "farslip",
    }
    log.info("retrieval %s: mean recall %.2f (%d images, %d texts)", data.name, metrics["mean_recall"],
             len(index.image_paths), len(index.texts))
    timings = {"encode_images_s": t1 - t0, "encode_texts_s": t2 - t1, "total_s": time.perf_counter() - t0}
    return metrics, timings, facts
