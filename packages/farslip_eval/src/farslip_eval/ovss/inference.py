"""Training-free OVSS inference (FarSLIP's RS-OVSS variant of SegEarth-OV).

Text side: each synonym is a query; its 80 template embeddings are L2-normalised, averaged and
renormalised. Image side: keep-ratio resize so the long side is ``fit_size``, normalise with the
model's mean/std on 0..255 RGB, slide ``window``/``stride`` windows (the last one snapped to the
border; sides not a multiple of the patch are zero-padded evenly and the padding cropped from the
logits), encode the windows in batches through the dense readout, upsample each window's cosine
logits bilinearly, sum and divide by the per-pixel count, and resize to the ground-truth size.
Decision: ``logit_scale`` x logits, softmax over all queries, max over each class's synonyms,
argmax; pixels whose top probability is below ``prob_thd`` get ``bg_idx``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from farslip_eval.encoders import ImageTextEncoder, NoDenseReadoutError
from farslip_eval.ovss.specs import BgThreshold, OvssSpec
from farslip_eval.templates import OPENAI_IMAGENET_TEMPLATES, fill_templates

__all__ = [
    "OvssPredictor",
    "build_text_classifier",
    "fit_size",
    "resize_to_fit",
    "slide_logits",
    "window_offsets",
]


def build_text_classifier(
    encoder: ImageTextEncoder,
    class_names: Sequence[Sequence[str]],
    templates: Sequence[str] = OPENAI_IMAGENET_TEMPLATES,
) -> tuple[Tensor, Tensor]:
    """(Q, D) unit query embeddings and the (Q,) class id of each query (synonym)."""
    queries: list[str] = []
    owner: list[int] = []
    for cid, names in enumerate(class_names):
        for name in names:
            queries.append(name)
            owner.append(cid)
    prompts = [p for q in queries for p in fill_templates(tuple(templates), q)]
    emb = encoder.encode_texts(prompts).reshape(len(queries), len(templates), -1)
    text = F.normalize(F.normalize(emb, dim=-1).mean(dim=1), dim=-1)
    return text, torch.tensor(owner, dtype=torch.long)


def fit_size(height: int, width: int, size: int) -> tuple[int, int]:
    """mmseg ``Resize(scale=(size, size), keep_ratio=True)``: the long side becomes ``size``."""
    scale = min(size / max(height, width), size / min(height, width))
    return int(height * scale + 0.5), int(width * scale + 0.5)


def resize_to_fit(image: np.ndarray, size: int) -> Tensor:
    """(H, W, 3) uint8 -> (3, h, w) float 0..255 after the keep-ratio resize (bilinear, rounded)."""
    x = torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1).float()[None]
    h, w = fit_size(image.shape[0], image.shape[1], size)
    if (h, w) != tuple(image.shape[:2]):
        x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False).round().clamp(0, 255)
    return x[0]


def window_offsets(length: int, window: int, stride: int) -> list[tuple[int, int]]:
    """(start, end) per window along one axis; the last window ends at the border."""
    n = max(length - window + stride - 1, 0) // stride + 1
    out = []
    for i in range(n):
        end = min(i * stride + window, length)
        out.append((max(end - window, 0), end))
    return out


def _pad_to_patch(x: Tensor, patch: int | None) -> tuple[Tensor, tuple[int, int, int, int]]:
    if not patch:
        return x, (0, 0, 0, 0)
    h, w = x.shape[-2:]
    ph, pw = (-h) % patch, (-w) % patch
    pads = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)  # left, right, top, bottom
    return (F.pad(x, pads) if ph or pw else x), pads


def _encode_windows(encoder: ImageTextEncoder, windows: Tensor, lam: float) -> tuple[Tensor, Tensor | None]:
    if lam != 0.0 and hasattr(encoder, "encode_dense_with_cls"):
        cls, dense = encoder.encode_dense_with_cls(windows)  # type: ignore[attr-defined]
        return dense, cls
    if lam != 0.0:
        raise NoDenseReadoutError(f"{encoder.name}: the CLS global-bias option needs encode_dense_with_cls")
    return encoder.encode_dense(windows), None


def slide_logits(
    encoder: ImageTextEncoder,
    image: Tensor,
    text: Tensor,
    *,
    window: int,
    stride: int,
    batch_size: int = 32,
    cls_token_lambda: float = 0.0,
) -> Tensor:
    """(Q, h, w) averaged cosine logits for a normalised (3, h, w) image; windows run in batches."""
    if not encoder.has_dense:
        raise NoDenseReadoutError(f"{encoder.name}: no dense readout, cannot run OVSS")
    _, h, w = image.shape
    boxes = [(y0, y1, x0, x1) for y0, y1 in window_offsets(h, window, stride) for x0, x1 in window_offsets(w, window, stride)]
    q = text.shape[0]
    text = text.to(image.device)
    canvas = torch.zeros(q, h, w, dtype=torch.float32, device=image.device)
    count = torch.zeros(1, h, w, dtype=torch.float32, device=image.device)
    patch = getattr(encoder, "patch_size", None)
    for start in range(0, len(boxes), max(1, batch_size)):
        chunk = boxes[start : start + max(1, batch_size)]
        crops = torch.stack([image[:, y0:y1, x0:x1] for y0, y1, x0, x1 in chunk])  # same size within an image
        crops, (pl, pr, pt, pb) = _pad_to_patch(crops, patch)
        dense, cls = _encode_windows(encoder, crops, cls_token_lambda)
        logits = torch.einsum("bhwd,qd->bqhw", dense.to(text.device, text.dtype), text)
        if cls is not None:
            logits = logits + cls_token_lambda * (cls.to(text.device, text.dtype) @ text.T)[:, :, None, None]
        ph, pw = crops.shape[-2:]
        logits = F.interpolate(logits, size=(ph, pw), mode="bilinear", align_corners=False)
        logits = logits[:, :, pt : ph - pb, pl : pw - pr]
        for (y0, y1, x0, x1), lg in zip(chunk, logits):
            canvas[:, y0:y1, x0:x1] += lg
            count[:, y0:y1, x0:x1] += 1
    return canvas / count


class OvssPredictor:
    """Per-image OVSS prediction for one encoder and one dataset spec (text classifier built once)."""

    def __init__(
        self,
        encoder: ImageTextEncoder,
        spec: OvssSpec,
        *,
        bg_threshold: BgThreshold = "spec",
        batch_size: int = 32,
        device: str = "cpu",
        cls_token_lambda: float | None = None,
        class_names: Sequence[Sequence[str]] | None = None,
    ) -> None:
        if not encoder.has_dense:
            raise NoDenseReadoutError(f"{encoder.name}: no dense readout, cannot run OVSS")
        self.encoder = encoder
        self.spec = spec
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.prob_thd, self.bg_idx = spec.threshold(bg_threshold)
        self.cls_token_lambda = spec.cls_token_lambda if cls_token_lambda is None else cls_token_lambda
        self.class_names = [tuple(c) for c in (class_names or spec.class_names())]
        text, owner = build_text_classifier(encoder, self.class_names)
        self.text = text.to(self.device)
        self.owner = owner.to(self.device)
        mean = torch.tensor(encoder.mean, dtype=torch.float32).view(3, 1, 1) * 255.0
        std = torch.tensor(encoder.std, dtype=torch.float32).view(3, 1, 1) * 255.0
        self._mean, self._std = mean.to(self.device), std.to(self.device)

    def logits(self, image: np.ndarray, out_size: tuple[int, int] | None = None) -> Tensor:
        """(Q, H, W) averaged window logits at ``out_size`` (default: the image's own size)."""
        x = resize_to_fit(image, self.spec.fit_size).to(self.device)
        x = (x - self._mean) / self._std
        lg = slide_logits(
            self.encoder, x, self.text, window=self.spec.window, stride=self.spec.stride,
            batch_size=self.batch_size, cls_token_lambda=self.cls_token_lambda,
        )
        size = out_size or (int(image.shape[0]), int(image.shape[1]))
        if tuple(lg.shape[-2:]) != tuple(size):
            lg = F.interpolate(lg[None], size=size, mode="bilinear", align_corners=False)[0]
        return lg

    def class_probabilities(self, logits: Tensor) -> Tensor:
        """(C, H, W): softmax(scale x logits) over all queries, then max over each class's synonyms."""
        probs = torch.softmax(self.spec.logit_scale * logits, dim=0)
        owner = self.owner.to(probs.device)
        return torch.stack([probs[owner == c].amax(dim=0) for c in range(len(self.class_names))])

    def decide(self, class_probs: Tensor) -> Tensor:
        """(H, W) int64 class ids: argmax, then the background fallback below ``prob_thd``."""
        top, pred = class_probs.max(dim=0)
        if self.bg_idx is not None and self.prob_thd > 0:
            pred = torch.where(top < self.prob_thd, torch.full_like(pred, self.bg_idx), pred)
        return pred

    def predict(self, image: np.ndarray, out_size: tuple[int, int] | None = None) -> Tensor:
        """(H, W) int64 class-id map for an (H, W, 3) uint8 RGB image."""
        return self.decide(self.class_probabilities(self.logits(image, out_size)))
