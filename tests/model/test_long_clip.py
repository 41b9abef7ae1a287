"""Long-CLIP stretch of the text positions (spec 3.4): 77 -> 248, keep 20, interpolate, extrapolate."""

from __future__ import annotations

import pytest
import torch

from farslip_model import create_model, load_state_dict_flexible
from farslip_model.long_clip import LONG_CONTEXT_LENGTH, enable_long_text, stretch_positional_embedding

torch.set_num_threads(1)


def test_stretch_rows_as_specified() -> None:
    pe = torch.randn(77, 6, dtype=torch.float64)
    new = stretch_positional_embedding(pe)
    assert new.shape == (248, 6) and LONG_CONTEXT_LENGTH == 248
    assert torch.equal(new[:20], pe[:20])
    for m in range(56):
        for r in range(4):
            want = (1 - r / 4) * pe[20 + m] + (r / 4) * pe[21 + m]
            torch.testing.assert_close(new[20 + 4 * m + r], want)
    for r in range(4):
        torch.testing.assert_close(new[244 + r], pe[76] + (r / 4) * (pe[76] - pe[75]))
    # every original position >= 20 reappears exactly at 20 + 4 (i - 20)
    assert torch.equal(new[20::4][:57], pe[20:])


def test_long_model_frozen_and_trainable_parts_and_248_token_forward() -> None:
    torch.manual_seed(0)
    short = create_model("FarSLIP-Tiny")
    pe77 = short.clip.positional_embedding.detach().clone()
    model = create_model("FarSLIP-Tiny", long_text=True)
    report = load_state_dict_flexible(model, short.clip.state_dict())  # a 77-position file: load_from_clip
    assert report.ok and any("stretched 77" in n for n in report.notes)
    enable_long_text(model.clip)  # idempotent
    clip = model.clip
    assert model.long_text and model.context_length == 248
    assert torch.equal(clip.positional_embedding[:20], pe77[:20])
    torch.testing.assert_close(clip.positional_embedding, stretch_positional_embedding(pe77))
    torch.testing.assert_close(clip.positional_embedding_res, clip.positional_embedding)
    assert clip.positional_embedding.shape == (248, 64) and not clip.positional_embedding.requires_grad
    assert clip.positional_embedding_res.requires_grad
    assert clip.mask1[:20].eq(1).all() and clip.mask1[20:].eq(0).all() and torch.equal(clip.mask2, 1 - clip.mask1)
    assert clip.attn_mask.shape == (248, 248)

    tokens = model.tokenize(["a satellite image of " + "many small white boats " * 80])
    assert tokens.shape == (1, 248) and tokens[0, -1].item() == tokens.max().item()  # truncated, EOT kept last
    feats = model.encode_text(tokens)
    assert feats.shape == (1, 64) and torch.isfinite(feats).all()
    feats.square().sum().backward()
    grad_res = clip.positional_embedding_res.grad
    assert clip.positional_embedding.grad is None
    assert grad_res is not None and grad_res[:20].abs().sum() == 0 and grad_res[20:].abs().sum() > 0


def test_long_encode_uses_frozen_rows_below_20_and_residual_rows_above() -> None:
    torch.manual_seed(1)
    model = create_model("FarSLIP-Tiny", long_text=True).eval()
    short_tokens = model.tokenize(["harbour"])  # EOT well below position 20
    long_tokens = model.tokenize(["ship " * 100])
    with torch.no_grad():
        a_short, a_long = model.encode_text(short_tokens), model.encode_text(long_tokens)
        model.clip.positional_embedding_res[:20].add_(5.0)  # masked out: no effect anywhere
        torch.testing.assert_close(model.encode_text(short_tokens), a_short)
        torch.testing.assert_close(model.encode_text(long_tokens), a_long)
        model.clip.positional_embedding_res[100:].add_(5.0)
        torch.testing.assert_close(model.encode_text(short_tokens), a_short)  # causal: later rows unseen
        assert not torch.allclose(model.encode_text(long_tokens), a_long)


def test_stretch_rejects_short_tables() -> None:
    with pytest.raises(ValueError, match="too short"):
        stretch_positional_embedding(torch.randn(21, 4))
