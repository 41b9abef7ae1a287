"""The training objective as one ``nn.Module`` (so DDP sees every parameter use in one forward).

``FarSLIPTask(model, loss_config, teacher)(images, tokens, ...)`` returns the weighted loss terms
switched on in ``loss_config`` (docs/interfaces.md section 2):

- ``global``: InfoNCE of the CLS embedding against the caption.
- ``distill``: patch distillation of the global image's dense map (RoIAlign over each crop box)
  against the teacher's encoding of the crop (``roi2pooled``, ``roi2cls`` or ``combined``).
- ``region``: region-category loss between object features (``crop_cls``: the crop's CLS;
  ``roi_pooled``: RoIAlign mean of the global dense map) and their region texts.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from farslip_model.losses import (
    global_contrastive_loss,
    patch_distillation_loss,
    region_category_loss,
    roi_align_mean,
)
from farslip_model.teacher import Teacher


class FarSLIPTask(nn.Module):
    """Model + losses. ``teacher`` encodes the distillation crops (the model itself when ``active``)."""

    def __init__(self, model: nn.Module, loss: Any, teacher: Teacher | None = None) -> None:
        super().__init__()
        self.model = model
        self.loss = loss
        self.teacher = teacher if teacher is not None else Teacher(model, "active")

    @property
    def needs_dense(self) -> bool:
        roi_regions = self.loss.w_region > 0 and self.loss.region_feature == "roi_pooled"
        return self.loss.w_distill > 0 or roi_regions

    def forward(
        self,
        images: Tensor,
        tokens: Tensor,
        crops: Tensor | None = None,
        boxes: Tensor | None = None,
        valid: Tensor | None = None,
        labels: Tensor | None = None,
        region_tokens: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """Loss terms and their weighted sum ``total``.

        Args:
            images: (B, 3, S, S) global views; tokens: (B, L) caption tokens.
            crops: (B, K, 3, S, S); boxes: (B, K, 4) normalised; valid: (B, K) bool.
            labels: (B, K) category ids (-1: ignore); region_tokens: (number of valid slots, L).
        """
        cfg, model = self.loss, self.model
        dense = None
        if self.needs_dense:
            cls, dense = model.encode_image_with_dense(images)
        else:
            cls = model.encode_image(images)
        scale = model.logit_scale_value()
        terms: dict[str, Tensor] = {}
        if cfg.w_global > 0:
            terms["global"] = global_contrastive_loss(cls, model.encode_text(tokens), scale)
        if cfg.w_distill > 0:
            if crops is None or boxes is None:
                raise ValueError("the distillation loss needs crops and boxes")
            b, k = crops.shape[:2]
            with self.teacher.context():
                crop_cls, crop_dense = self.teacher.model.encode_image_with_dense(crops.flatten(0, 1))
            terms["distill"] = patch_distillation_loss(
                dense,
                boxes,
                crop_dense.reshape(b, k, -1, crop_dense.shape[-1]),
                align=cfg.distill_align,
                crop_cls=None if cfg.distill_align == "roi2pooled" else crop_cls.reshape(b, k, -1),
                valid=valid,
            )
        if cfg.w_region > 0:
            if valid is None or labels is None or region_tokens is None:
                raise ValueError("the region loss needs valid, labels and region_tokens")
            terms["region"] = self._region_loss(cls, dense, crops, boxes, valid, labels, region_tokens, scale)
        weights = {"global": cfg.w_global, "distill": cfg.w_distill, "region": cfg.w_region}
        zero = torch.zeros((), device=cls.device)
        terms["total"] = sum((weights[name] * value for name, value in terms.items()), zero)
        return terms

    def _region_loss(
        self,
        cls: Tensor,
        dense: Tensor | None,
        crops: Tensor | None,
        boxes: Tensor | None,
        valid: Tensor,
        labels: Tensor,
        region_tokens: Tensor,
        scale: Tensor,
    ) -> Tensor:
        """Zero-padded (B*K, D) region and text features (so every rank gathers the same shape)."""
        model = self.model
        sel = valid.flatten()
        rows = sel.nonzero().squeeze(1)
        feats = cls.new_zeros(sel.numel(), cls.shape[-1])
        texts = cls.new_zeros(sel.numel(), cls.shape[-1])
        if rows.numel():
            if region_tokens.shape[0] != rows.numel():
                raise ValueError(f"{region_tokens.shape[0]} region texts for {rows.numel()} valid regions")
            if self.loss.region_feature == "crop_cls":
                if crops is None:
                    raise ValueError("region_feature=crop_cls needs crops")
                f = model.encode_image(crops.flatten(0, 1)[rows])
            else:
                if dense is None or boxes is None:
                    raise ValueError("region_feature=roi_pooled needs the dense map and boxes")
                f = roi_align_mean(dense, boxes).flatten(0, 1)[rows]
            t = model.encode_text(region_tokens)
            feats = feats.index_put((rows,), f.to(feats.dtype))
            texts = texts.index_put((rows,), t.to(texts.dtype))
        flat_labels = torch.where(sel, labels.flatten(), torch.full_like(labels.flatten(), -1))
        return region_category_loss(feats, texts, flat_labels, scale, variant=self.loss.region_loss)
