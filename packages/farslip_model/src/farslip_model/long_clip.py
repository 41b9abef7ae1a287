"""Long-CLIP text extension (spec 3.4): stretch 77 text positions to 248 without forking open_clip.

The stretched table becomes ``clip.positional_embedding`` (frozen) and a trainable copy
``clip.positional_embedding_res`` is added; buffers ``mask1`` (positions < keep) and ``mask2`` (the
rest) select between them, exactly the key names of the released FarSLIP2 checkpoints. The open_clip
``CLIP.encode_text`` is shadowed on the instance by :func:`long_encode_text`.
"""

from __future__ import annotations

import types

import torch
import torch.nn.functional as F
from open_clip.transformer import text_global_pool
from torch import Tensor, nn

KEEP_POSITIONS = 20
STRETCH_RATIO = 4
SHORT_CONTEXT_LENGTH = 77
LONG_CONTEXT_LENGTH = KEEP_POSITIONS + (SHORT_CONTEXT_LENGTH - KEEP_POSITIONS) * STRETCH_RATIO  # 248


def stretch_positional_embedding(pe: Tensor, keep: int = KEEP_POSITIONS, ratio: int = STRETCH_RATIO) -> Tensor:
    """(n, C) -> (keep + (n - keep) * ratio, C).

    Rows 0..keep-1 are copied; for m = 0..n-keep-2 and r = 0..ratio-1,
    new[keep + ratio*m + r] = (1 - r/ratio) * pe[keep+m] + (r/ratio) * pe[keep+m+1]; the last ``ratio``
    rows extrapolate: pe[n-1] + (r/ratio) * (pe[n-1] - pe[n-2]).
    """
    n = pe.shape[0]
    if pe.ndim != 2 or n < keep + 2:
        raise ValueError(f"positional embedding of shape {tuple(pe.shape)} is too short to stretch (keep={keep})")
    frac = torch.arange(ratio, dtype=pe.dtype, device=pe.device) / ratio  # (ratio,)
    start = pe[keep:-1]  # (n-keep-1, C)
    step = pe[keep + 1 :] - pe[keep:-1]
    inner = start[:, None, :] + frac[None, :, None] * step[:, None, :]
    tail = pe[-1][None, :] + frac[:, None] * (pe[-1] - pe[-2])[None, :]
    return torch.cat([pe[:keep], inner.reshape(-1, pe.shape[1]), tail], dim=0)


def is_long_text(clip: nn.Module) -> bool:
    """True if :func:`enable_long_text` was applied to this open_clip CLIP."""
    return "positional_embedding_res" in clip._parameters


def _causal_mask(n: int, device: torch.device) -> Tensor:
    return torch.full((n, n), float("-inf"), device=device).triu_(1)


def long_encode_text(self: nn.Module, text: Tensor, normalize: bool = False) -> Tensor:
    """open_clip ``CLIP.encode_text`` with pe = PE * mask1 + PE_res * mask2 (bound to the instance)."""
    cast_dtype = self.transformer.get_cast_dtype()
    length = text.shape[1]
    if length > self.context_length:
        raise ValueError(f"token length {length} exceeds the context length {self.context_length}")
    pe = self.positional_embedding * self.mask1 + self.positional_embedding_res * self.mask2
    x = self.token_embedding(text).to(cast_dtype) + pe[:length].to(cast_dtype)
    x = self.transformer(x, attn_mask=self.attn_mask[:length, :length])
    x = self.ln_final(x)
    x = text_global_pool(x, text, self.text_pool_type, eos_token_id=getattr(self, "text_eos_id", None))
    if self.text_projection is not None:
        x = self.text_projection(x) if isinstance(self.text_projection, nn.Linear) else x @ self.text_projection
    return F.normalize(x, dim=-1) if normalize else x


def enable_long_text(clip: nn.Module, keep: int = KEEP_POSITIONS, ratio: int = STRETCH_RATIO) -> None:
    """Turn a 77-position open_clip CLIP into a 248-position Long-CLIP one, in place.

    The current table is stretched (``load_from_clip``); loading a 248-position checkpoint afterwards
    overwrites both tables (``load_from_scratch``).
    """
    if is_long_text(clip):
        return
    pe = clip.positional_embedding.detach()
    stretched = stretch_positional_embedding(pe, keep, ratio)
    n = stretched.shape[0]
    clip.positional_embedding = nn.Parameter(stretched.clone(), requires_grad=False)
    clip.positional_embedding_res = nn.Parameter(stretched.clone(), requires_grad=True)
    first = (torch.arange(n, device=pe.device) < keep).to(pe.dtype)[:, None]
    clip.register_buffer("mask1", first)
    clip.register_buffer("mask2", 1.0 - first)
    clip.register_buffer("attn_mask", _causal_mask(n, pe.device), persistent=False)
    clip.context_length = n
    clip.encode_text = types.MethodType(long_encode_text, clip)


__all__ = [
    "KEEP_POSITIONS",
    "LONG_CONTEXT_LENGTH",
    "STRETCH_RATIO",
    "enable_long_text",
    "is_long_text",
    "long_encode_text",
    "stretch_positional_embedding",
]
