"""Retrieval recall@K with several ground-truth matches per query.

``scores[q, n]`` is the similarity of query q to candidate n and ``positives[q, n]`` marks the
ground-truth matches. A query counts as a hit at K when *any* of its positives is among its K best
candidates (the CLIP paper's R@K, used by CLIP_benchmark, SkyScript and FarSLIP).

Ties: candidates are ranked by a *stable* descending sort of the scores, so among equal scores the
candidate with the lower index ranks first. This is deterministic and independent of the device; a
positive tied with a negative of lower index therefore ranks behind it.
"""

from __future__ import annotations

import torch
from torch import Tensor

DEFAULT_KS: tuple[int, ...] = (1, 5, 10)


def first_positive_rank(scores: Tensor, positives: Tensor) -> Tensor:
    """0-based rank of the best-ranked positive of each query (stable descending sort)."""
    if scores.ndim != 2 or scores.shape != positives.shape:
        raise ValueError(
            f"scores and positives must be equal-shaped (Q, N) matrices, got {tuple(scores.shape)} and "
            f"{tuple(positives.shape)}"
        )
    if scores.shape[0] == 0 or scores.shape[1] == 0:
        raise ValueError(f"cannot rank an empty score matrix of shape {tuple(scores.shape)}")
    positives = positives.bool()
    no_positive = ~positives.any(dim=1)
    if bool(no_positive.any()):
        bad = no_positive.nonzero().flatten()[:5].tolist()
        raise ValueError(f"{int(no_positive.sum())} queries have no ground-truth match (first: {bad})")
    order = torch.sort(scores.float(), dim=1, descending=True, stable=True).indices
    sorted_pos = positives.gather(1, order)
    return sorted_pos.int().argmax(dim=1)  # first True along each row


def recall_at_k(scores: Tensor, positives: Tensor, ks: tuple[int, ...] = DEFAULT_KS) -> dict[int, float]:
    """Percentage of queries with at least one positive in the top K, for each K (K > N means all)."""
    ranks = first_positive_rank(scores, positives)
    return {k: 100.0 * (ranks < k).double().mean().item() for k in ks}


def retrieval_metrics(
    text_image_scores: Tensor,
    text_image_positives: Tensor,
    ks: tuple[int, ...] = DEFAULT_KS,
) -> dict[str, float]:
    """Both directions from one (T, I) text-by-image matrix: ``i2t_R@K``, ``t2i_R@K`` and their means.

    ``mean_recall`` is the average of all 2 x len(ks) numbers (RS papers' mR); ``i2t_mean`` and
    ``t2i_mean`` are the per-direction means (the figures in FarSLIP's retrieval table).
    """
    t2i = recall_at_k(text_image_scores, text_image_positives, ks)
    i2t = recall_at_k(text_image_scores.T, text_image_positives.T, ks)
    out: dict[str, float] = {}
    for k in ks:
        out[f"i2t_R@{k}"] = i2t[k]
    for k in ks:
        out[f"t2i_R@{k}"] = t2i[k]
    out["i2t_mean"] = sum(i2t.values()) / len(ks)
    out["t2i_mean"] = sum(t2i.values()) / len(ks)
    out["mean_recall"] = (sum(i2t.values()) + sum(t2i.values())) / (2 * len(ks))
    return out
