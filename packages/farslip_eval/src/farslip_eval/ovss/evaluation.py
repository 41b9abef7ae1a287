"""Run one OVSS dataset end to end: predictions, one accumulated confusion matrix, metrics."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from farslip_eval.encoders import ImageTextEncoder
from farslip_eval.metrics.segmentation import confusion_matrix, segmentation_metrics
from farslip_eval.ovss.data import OnBad, OvssDataset
from farslip_eval.ovss.inference import OvssPredictor
from farslip_eval.ovss.specs import BgThreshold, OvssSpec

log = logging.getLogger(__name__)

__all__ = ["evaluate"]


def _clean(value: float) -> float | None:
    return None if isinstance(value, float) and math.isnan(value) else value


def evaluate(
    encoder: ImageTextEncoder,
    spec: OvssSpec,
    data_root: str | Path | None,
    batch_size: int = 32,
    device: str = "cpu",
    bg_threshold: BgThreshold = "spec",
    *,
    on_bad: OnBad = "error",
    limit: int | None = None,
    cls_token_lambda: float | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate ``encoder`` on ``spec``; returns ``{"metrics", "protocol", "timings", "skipped"}``.

    Metrics are percentages (mIoU, mAcc, aAcc; ``per_class_IoU``/``per_class_Acc`` keyed by the
    class's first name, ``None`` for classes absent from both prediction and ground truth).
    A model without a dense readout is not an error: the result has empty metrics, ``status``
    ``"skipped"`` and the reason under ``skipped``. Dataset problems follow ``on_bad``.
    """
    protocol = spec.protocol(bg_threshold)
    if cls_token_lambda is not None:
        protocol["cls_token_lambda"] = cls_token_lambda
    protocol["batch_size"] = batch_size
    if not encoder.has_dense:
        reason = f"{encoder.name} has no dense (patch) readout; OVSS needs a ViT"
        log.warning("%s: skipped: %s", spec.name, reason)
        return {"status": "skipped", "metrics": {}, "protocol": protocol, "timings": {},
                "skipped": {"no_dense_readout": 1, "reason": reason}}
    t0 = time.perf_counter()
    dataset = OvssDataset(spec, data_root, on_bad=on_bad)
    predictor = OvssPredictor(encoder, spec, bg_threshold=bg_threshold, batch_size=batch_size,
                              device=device, cls_token_lambda=cls_token_lambda)
    t_text = time.perf_counter() - t0
    num_classes = len(predictor.class_names)
    conf = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    n_images = 0
    t_model = 0.0
    total = len(dataset) if limit is None else min(limit, len(dataset))
    for i in tqdm(range(total), desc=f"ovss {spec.name}", disable=not progress, leave=False):
        sample = dataset.load(i)
        if sample is None:
            continue
        t1 = time.perf_counter()
        pred = predictor.predict(sample.image, out_size=sample.label.shape)
        t_model += time.perf_counter() - t1
        conf += confusion_matrix(pred.cpu(), torch.from_numpy(sample.label), num_classes, spec.ignore_index)
        n_images += 1
    if n_images == 0:
        raise RuntimeError(f"{spec.name}: no image could be evaluated (skipped: {dict(dataset.skipped)})")
    m = segmentation_metrics(conf)
    names = [c[0] for c in predictor.class_names]
    metrics = {
        "mIoU": _clean(m["mIoU"]), "mAcc": _clean(m["mAcc"]), "aAcc": _clean(m["aAcc"]),
        "per_class_IoU": {n: _clean(v) for n, v in zip(names, m["per_class_IoU"])},
        "per_class_Acc": {n: _clean(v) for n, v in zip(names, m["per_class_Acc"])},
        "num_images": n_images, "num_pixels": m["num_pixels"],
    }
    protocol["class_names"] = [list(c) for c in predictor.class_names]
    total_s = time.perf_counter() - t0
    return {
        "status": "ok",
        "metrics": metrics,
        "protocol": protocol,
        "timings": {"total_s": round(total_s, 3), "text_s": round(t_text, 3), "model_s": round(t_model, 3),
                    "s_per_image": round(t_model / n_images, 4), "images": n_images},
        "skipped": {**dict(dataset.skipped), **({"files": dataset.skipped_files} if dataset.skipped_files else {})},
        "confusion_matrix": conf.tolist(),
    }
