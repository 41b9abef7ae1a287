"""FarSLIP model: an open_clip ``CLIP`` wrapped with a one-pass CLS + dense readout (spec 3.2).

The wrapped model is the unmodified open_clip module (``FarSLIPModel.clip``); the extra behaviour
(dense last-block attention, positional-embedding interpolation, Long-CLIP text) is added around it.
"""

from __future__ import annotations

import difflib
import logging
import os
from pathlib import Path
from typing import Any

import open_clip
import torch
import torch.nn.functional as F
from open_clip.transformer import ResidualAttentionBlock, VisionTransformer
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from farslip_model._registry import register_model_configs
from farslip_model.long_clip import enable_long_text, is_long_text

register_model_configs()

logger = logging.getLogger(__name__)

DENSE_VARIANTS: tuple[str, ...] = ("segearth", "maskclip")
# Architectures whose OpenAI release was trained with QuickGELU (open_clip's "openai" tags).
OPENAI_QUICKGELU_ARCHS: frozenset[str] = frozenset(
    {"RN50", "RN101", "RN50x4", "RN50x16", "RN50x64", "ViT-B-32", "ViT-B-16", "ViT-L-14", "ViT-L-14-336"}
)
_NO_WEIGHTS = {"", "none", "random", "scratch"}


class UnknownArchitectureError(ValueError):
    """An architecture name that open_clip (plus our registered configs) does not know."""


def list_models() -> list[str]:
    """All architecture names ``create_model`` accepts (open_clip's registry, FarSLIP-Tiny included)."""
    register_model_configs()
    return open_clip.list_models()


def _check_arch(arch: str) -> None:
    names = list_models()
    if arch in names:
        return
    close = difflib.get_close_matches(arch, names, n=6, cutoff=0.5)
    hint = f" Close names: {', '.join(close)}." if close else ""
    raise UnknownArchitectureError(
        f"unknown architecture {arch!r}: not an open_clip model config.{hint} "
        f"See farslip_model.list_models() for all {len(names)} names."
    )


def _default_quick_gelu(arch: str, tag: str | None) -> bool:
    cfg = open_clip.get_model_config(arch) or {}
    if cfg.get("quick_gelu", False):
        return True
    if tag is not None:
        return bool(open_clip.get_pretrained_cfg(arch, tag).get("quick_gelu", False)) or (
            tag == "openai" and arch in OPENAI_QUICKGELU_ARCHS
        )
    return arch in OPENAI_QUICKGELU_ARCHS


def _interpolate_grid(pos: Tensor, old: tuple[int, int], new: tuple[int, int]) -> Tensor:
    """Bicubically resize a (old_h*old_w, C) positional table to (new_h*new_w, C)."""
    if old == new:
        return pos
    grid = pos.reshape(1, old[0], old[1], -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid.float(), size=new, mode="bicubic", align_corners=False).to(pos.dtype)
    return grid.permute(0, 2, 3, 1).reshape(new[0] * new[1], -1)


class FarSLIPModel(nn.Module):
    """open_clip ``CLIP`` plus the FarSLIP readouts.

    Attributes follow docs/interfaces.md section 2. ``dense_variant`` selects the last-block dense
    attention: ``segearth`` (softmax(qq^T)+softmax(kk^T)+softmax(vv^T) applied to v, out-projection,
    no residual, no MLP) or ``maskclip`` (value path only, with residual and MLP).
    """

    def __init__(
        self,
        clip: open_clip.CLIP,
        arch: str,
        dense_variant: str = "segearth",
        *,
        quick_gelu: bool = False,
        pretrained: str | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(clip, open_clip.CLIP):
            raise TypeError(f"FarSLIPModel wraps an open_clip.CLIP, got {type(clip).__name__} for {arch!r}")
        visual = clip.visual
        if not isinstance(visual, VisionTransformer):
            raise TypeError(
                f"architecture {arch!r} has a {type(visual).__name__} image tower; the dense readout "
                "needs an open_clip VisionTransformer (ViT-* architectures)"
            )
        if visual.attn_pool is not None or visual.pool_type != "tok" or visual.final_ln_after_pool:
            raise TypeError(f"architecture {arch!r}: the dense readout needs CLS-token pooling (pool_type 'tok')")
        last = visual.transformer.resblocks[-1]
        if not isinstance(last, ResidualAttentionBlock) or not visual.transformer.batch_first:
            raise TypeError(f"architecture {arch!r}: the last vision block must be a batch-first ResidualAttentionBlock")
        if dense_variant not in DENSE_VARIANTS:
            raise ValueError(f"dense_variant must be one of {DENSE_VARIANTS}, got {dense_variant!r}")
        self.clip = clip
        self.arch = arch
        self.dense_variant = dense_variant
        self.quick_gelu = quick_gelu
        self.pretrained = pretrained
        self.embed_dim = int(visual.output_dim)
        self.image_size = int(visual.image_size[0])
        self.patch_size = int(visual.patch_size[0])
        pp = open_clip.get_model_preprocess_cfg(clip)
        self.mean: tuple[float, float, float] = tuple(pp.get("mean", open_clip.OPENAI_DATASET_MEAN))  # type: ignore[assignment]
        self.std: tuple[float, float, float] = tuple(pp.get("std", open_clip.OPENAI_DATASET_STD))  # type: ignore[assignment]
        self._tokenizer: Any = None
        self._tokenizer_ctx = -1

    # ----------------------------------------------------------------- text
    @property
    def context_length(self) -> int:
        return int(self.clip.context_length)

    @property
    def long_text(self) -> bool:
        return is_long_text(self.clip)

    def tokenize(self, texts: list[str]) -> Tensor:
        """Tokenise to (T, context_length) with open_clip's tokenizer (truncation keeps a final EOT)."""
        if isinstance(texts, str):
            texts = [texts]
        if self._tokenizer is None or self._tokenizer_ctx != self.context_length:
            self._tokenizer = open_clip.get_tokenizer(self.arch, context_length=self.context_length)
            self._tokenizer_ctx = self.context_length
        return self._tokenizer(list(texts)).long()

    def encode_text(self, tokens: Tensor, normalize: bool = False) -> Tensor:
        """(B, L) tokens -> (B, D) text embeddings (EOT token, after ln_final and text_projection)."""
        return self.clip.encode_text(tokens, normalize=normalize)

    # ---------------------------------------------------------------- image
    def _grid(self, images: Tensor) -> tuple[int, int]:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be (B, 3, H, W), got {tuple(images.shape)}")
        h, w = int(images.shape[-2]), int(images.shape[-1])
        if h % self.patch_size or w % self.patch_size:
            raise ValueError(
                f"image size {h}x{w} is not a multiple of the patch size {self.patch_size} ({self.arch})"
            )
        return h // self.patch_size, w // self.patch_size

    def _positional_embedding(self, grid: tuple[int, int]) -> Tensor:
        visual = self.clip.visual
        pos = visual.positional_embedding
        return torch.cat([pos[:1], _interpolate_grid(pos[1:], tuple(visual.grid_size), grid)], dim=0)

    def _embed(self, images: Tensor) -> tuple[Tensor, tuple[int, int]]:
        """Patch embedding + CLS + (interpolated) positions + ln_pre, like open_clip's ``_embeds``."""
        visual = self.clip.visual
        grid = self._grid(images)
        x = visual.conv1(images.to(visual.conv1.weight.dtype))
        x = x.flatten(2).transpose(1, 2)
        cls = visual.class_embedding.to(x.dtype).view(1, 1, -1).expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1) + self._positional_embedding(grid).to(x.dtype)
        x = visual.patch_dropout(x)
        return visual.ln_pre(x), grid

    def _run_blocks(self, x: Tensor, blocks: nn.ModuleList | list[nn.Module]) -> Tensor:
        use_ckpt = self.clip.visual.transformer.grad_checkpointing and self.training
        for blk in blocks:
            x = checkpoint(blk, x, use_reentrant=False) if use_ckpt else blk(x)
        return x

    def _head(self, tokens: Tensor) -> Tensor:
        visual = self.clip.visual
        tokens = visual.ln_post(tokens)
        return tokens @ visual.proj if visual.proj is not None else tokens

    def encode_image(self, images: Tensor, normalize: bool = False) -> Tensor:
        """(B, 3, H, W) -> (B, D) CLS embeddings; any H, W that are multiples of the patch size."""
        x, _ = self._embed(images)
        x = self._run_blocks(x, self.clip.visual.transformer.resblocks)
        feats = self._head(x[:, 0])
        return F.normalize(feats, dim=-1) if normalize else feats

    def encode_image_with_dense(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """One pass: CLS (B, D) from the normal last block, dense (B, h, w, D) from the modified one.

        Blocks 1..L-1 run once; both outputs go through ``ln_post`` and ``proj``; unnormalised.
        """
        x, (gh, gw) = self._embed(images)
        blocks = self.clip.visual.transformer.resblocks
        x = self._run_blocks(x, blocks[:-1])
        last = blocks[-1]
        cls = self._head(last(x)[:, 0])
        dense = self._head(dense_last_block(last, x, self.dense_variant)[:, 1:])
        return cls, dense.reshape(dense.shape[0], gh, gw, -1)

    def encode_dense(self, images: Tensor, normalize: bool = False) -> Tensor:
        """(B, h, w, D) dense patch embeddings only (the OVSS readout)."""
        dense = self.encode_image_with_dense(images)[1]
        return F.normalize(dense, dim=-1) if normalize else dense

    # ----------------------------------------------------------------- misc
    def logit_scale_value(self) -> Tensor:
        """exp(logit_scale), clamped at 100 (keeps the graph to the parameter)."""
        return self.clip.logit_scale.exp().clamp(max=100.0)

    def forward(
        self, images: Tensor | None = None, tokens: Tensor | None = None, *, dense: bool = False
    ) -> dict[str, Tensor]:
        """Unnormalised features in a dict (``image_features``, ``dense_features``, ``text_features``,
        ``logit_scale``); one entry point so DDP sees every use of the parameters."""
        out: dict[str, Tensor] = {}
        if images is not None:
            if dense:
                out["image_features"], out["dense_features"] = self.encode_image_with_dense(images)
            else:
                out["image_features"] = self.encode_image(images)
        if tokens is not None:
            out["text_features"] = self.encode_text(tokens)
        out["logit_scale"] = self.logit_scale_value()
        return out

    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild this model (written to a checkpoint's config.json)."""
        return {
            "arch": self.arch,
            "long_text": self.long_text,
            "dense_variant": self.dense_variant,
            "quick_gelu": self.quick_gelu,
            "context_length": self.context_length,
            "embed_dim": self.embed_dim,
            "image_size": self.image_size,
            "patch_size": self.patch_size,
            "mean": list(self.mean),
            "std": list(self.std),
        }


def _split_heads(t: Tensor, heads: int) -> Tensor:
    b, n, c = t.shape
    return t.reshape(b, n, heads, c // heads).transpose(1, 2)  # (B, H, N, hd)


def dense_last_block(block: ResidualAttentionBlock, x: Tensor, variant: str = "segearth") -> Tensor:
    """The modified last-block forward used for dense tokens (batch-first x: (B, N, C))."""
    attn: nn.MultiheadAttention = block.attn
    y = block.ln_1(x)
    q, k, v = F.linear(y, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
    if variant == "maskclip":
        x = x + block.ls_1(attn.out_proj(v))
        return x + block.ls_2(block.mlp(block.ln_2(x)))
    if variant != "segearth":
        raise ValueError(f"dense_variant must be one of {DENSE_VARIANTS}, got {variant!r}")
    heads = attn.num_heads
    q, k, v = (_split_heads(t, heads) for t in (q, k, v))
    scale = q.shape[-1] ** -0.5
    weights = sum(torch.softmax((t @ t.transpose(-2, -1)) * scale, dim=-1) for t in (q, k, v))
    out = (weights @ v).transpose(1, 2).reshape(x.shape)
    return attn.out_proj(out)


class _DropRandomInitNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "initialized randomly" not in record.getMessage()


_RANDOM_INIT_NOTICE = _DropRandomInitNotice()


def _is_local_path(pretrained: str) -> bool:
    return os.path.sep in pretrained or Path(pretrained).suffix in {".pt", ".pth", ".bin", ".safetensors"} or Path(
        pretrained
    ).exists()


def create_model(
    arch: str = "ViT-B-16",
    pretrained: str | None = None,
    *,
    long_text: bool = False,
    dense_variant: str = "segearth",
    device: str | torch.device = "cpu",
    quick_gelu: bool | None = None,
) -> FarSLIPModel:
    """Build a FarSLIP model around ``open_clip.create_model``.

    ``pretrained``: None / "none" (random init; the default, so nothing is downloaded by accident),
    an open_clip tag such as "openai" (downloaded through open_clip), or a local state-dict file
    (.safetensors, or .pt/.bin read with ``weights_only=True``), e.g. a released FarSLIP1/FarSLIP2 or
    RemoteCLIP-style checkpoint, or one of our checkpoint folders. A checkpoint with 248 text positions
    turns on Long-CLIP automatically; ``long_text=True`` stretches a 77-position model to 248.
    ``quick_gelu`` defaults to True for the OpenAI architectures (ViT-B-16, ViT-B-32, ...).
    """
    from farslip_model.checkpoint import load_state_dict_file, load_state_dict_flexible

    _check_arch(arch)
    if dense_variant not in DENSE_VARIANTS:
        raise ValueError(f"dense_variant must be one of {DENSE_VARIANTS}, got {dense_variant!r}")
    tag: str | None = None
    state_dict: dict[str, Tensor] | None = None
    if pretrained is not None and pretrained.strip().lower() not in _NO_WEIGHTS:
        if _is_local_path(pretrained):
            path = Path(pretrained)
            if path.is_dir():
                path = path / "model.safetensors"
            if not path.is_file():
                raise FileNotFoundError(f"pretrained checkpoint not found: {path}")
            state_dict = load_state_dict_file(path)
        elif open_clip.get_pretrained_cfg(arch, pretrained):
            tag = pretrained
        else:
            tags = open_clip.list_pretrained_tags_by_model(arch)
            raise ValueError(
                f"pretrained={pretrained!r} is neither an existing file nor an open_clip tag for {arch!r}; "
                f"known tags: {tags or 'none'}"
            )
    qg = _default_quick_gelu(arch, tag) if quick_gelu is None else quick_gelu
    root = logging.getLogger()
    root.addFilter(_RANDOM_INIT_NOTICE)  # open_clip's notice is wrong when we load weights ourselves
    try:
        clip = open_clip.create_model(
            arch,
            pretrained=tag,
            force_quick_gelu=qg,
            pretrained_image=False,
            pretrained_text=False,
            device="cpu",
        )
    finally:
        root.removeFilter(_RANDOM_INIT_NOTICE)
    if tag is None and state_dict is None:
        logger.info("%s: random initialisation (pretrained=None)", arch)
    model = FarSLIPModel(clip, arch, dense_variant, quick_gelu=qg, pretrained=pretrained)
    if state_dict is not None:
        report = load_state_dict_flexible(model, state_dict)
        if report.missing or report.unexpected:
            logger.warning("loading %s into %s: %s", pretrained, arch, report.summary())
        else:
            logger.info("loaded %s into %s (%s)", pretrained, arch, report.summary())
    if long_text and not model.long_text:
        enable_long_text(model.clip)  # load_from_clip: stretch the loaded 77-position table
    if model.long_text:
        logger.info("%s: Long-CLIP text, %d positions", arch, model.context_length)
    return model.to(device)


def grid_size_for(model: FarSLIPModel, height: int, width: int) -> tuple[int, int]:
    """Token grid (h, w) for an input of ``height`` x ``width`` pixels."""
    if height % model.patch_size or width % model.patch_size:
        raise ValueError(f"{height}x{width} is not a multiple of the patch size {model.patch_size}")
    return height // model.patch_size, width // model.patch_size


__all__ = [
    "DENSE_VARIANTS",
    "FarSLIPModel",
    "UnknownArchitectureError",
    "create_model",
    "dense_last_block",
    "grid_size_for",
    "list_models",
]
