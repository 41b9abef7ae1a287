"""The one-pass CLS + dense readout against a direct re-computation on the same weights."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import farslip_model
from farslip_model import FarSLIPModel, create_model

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny() -> FarSLIPModel:
    torch.manual_seed(0)
    return create_model("FarSLIP-Tiny").eval()


def _tokens_before_last_block(model: FarSLIPModel, images: torch.Tensor) -> torch.Tensor:
    """Independent embedding: patches by unfold + einsum, positions resized bicubically, ln_pre, blocks 1..L-1."""
    v = model.clip.visual
    p = model.patch_size
    b, _, h, w = images.shape
    gh, gw = h // p, w // p
    patches = F.unfold(images, kernel_size=p, stride=p).transpose(1, 2)  # (B, gh*gw, 3*p*p)
    x = torch.einsum("bnk,ck->bnc", patches, v.conv1.weight.reshape(v.conv1.weight.shape[0], -1))
    g0 = v.grid_size
    pos_patch = v.positional_embedding[1:].reshape(1, g0[0], g0[1], -1).permute(0, 3, 1, 2)
    pos_patch = F.interpolate(pos_patch, size=(gh, gw), mode="bicubic", align_corners=False)
    pos = torch.cat([v.positional_embedding[:1], pos_patch.permute(0, 2, 3, 1).reshape(gh * gw, -1)])
    x = torch.cat([v.class_embedding.expand(b, 1, -1), x], dim=1) + pos
    x = F.layer_norm(x, (x.shape[-1],), v.ln_pre.weight, v.ln_pre.bias, v.ln_pre.eps)
    for blk in v.transformer.resblocks[:-1]:
        x = blk(x)
    return x


def _head(model: FarSLIPModel, t: torch.Tensor) -> torch.Tensor:
    v = model.clip.visual
    return F.layer_norm(t, (t.shape[-1],), v.ln_post.weight, v.ln_post.bias, v.ln_post.eps) @ v.proj


def _segearth_by_einsum(model: FarSLIPModel, x: torch.Tensor) -> torch.Tensor:
    blk = model.clip.visual.transformer.resblocks[-1]
    heads = blk.attn.num_heads
    y = F.layer_norm(x, (x.shape[-1],), blk.ln_1.weight, blk.ln_1.bias, blk.ln_1.eps)
    c = x.shape[-1]
    wq, wk, wv = blk.attn.in_proj_weight.split(c)
    bq, bk, bv = blk.attn.in_proj_bias.split(c)
    hd = c // heads
    q, k, v = (
        (torch.einsum("bnc,dc->bnd", y, wt) + bt).reshape(x.shape[0], x.shape[1], heads, hd)
        for wt, bt in ((wq, bq), (wk, bk), (wv, bv))
    )
    attn = sum(torch.einsum("bnhd,bmhd->bhnm", t, t).mul(hd**-0.5).softmax(-1) for t in (q, k, v))
    out = torch.einsum("bhnm,bmhd->bnhd", attn, v).reshape(x.shape[0], x.shape[1], c)
    out = torch.einsum("bnc,dc->bnd", out, blk.attn.out_proj.weight) + blk.attn.out_proj.bias
    return _head(model, out[:, 1:])  # no residual, no MLP


@pytest.mark.parametrize("size", [(64, 64), (32, 48), (80, 40)])
def test_dense_equals_einsum_recomputation(tiny: FarSLIPModel, size: tuple[int, int]) -> None:
    h, w = size
    images = torch.randn(2, 3, h, w)
    with torch.no_grad():
        cls, dense = tiny.encode_image_with_dense(images)
        x = _tokens_before_last_block(tiny, images)
        want_dense = _segearth_by_einsum(tiny, x).reshape(2, h // 8, w // 8, -1)
        want_cls = _head(tiny, tiny.clip.visual.transformer.resblocks[-1](x)[:, 0])
    assert dense.shape == (2, h // 8, w // 8, tiny.embed_dim)
    torch.testing.assert_close(dense, want_dense, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(cls, want_cls, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(tiny.encode_image(images), cls, rtol=1e-5, atol=1e-6)


def test_cls_equals_plain_open_clip_encode_image(tiny: FarSLIPModel) -> None:
    images = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        cls, _ = tiny.encode_image_with_dense(images)
        plain = tiny.clip.encode_image(images)
    torch.testing.assert_close(cls, plain, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(tiny.encode_image(images, normalize=True), F.normalize(plain, dim=-1))


def test_blocks_run_once_per_pass(tiny: FarSLIPModel) -> None:
    calls = [0] * len(tiny.clip.visual.transformer.resblocks)
    hooks = [
        blk.register_forward_hook(lambda *_, i=i: calls.__setitem__(i, calls[i] + 1))
        for i, blk in enumerate(tiny.clip.visual.transformer.resblocks)
    ]
    try:
        with torch.no_grad():
            tiny.encode_image_with_dense(torch.randn(1, 3, 64, 64))
    finally:
        for hk in hooks:
            hk.remove()
    assert calls == [1] * len(calls)  # the dense path reuses the last block's weights, not its forward


def test_maskclip_variant_value_path_with_residual_and_mlp() -> None:
    torch.manual_seed(1)
    model = create_model("FarSLIP-Tiny", dense_variant="maskclip").eval()
    images = torch.randn(1, 3, 48, 64)
    with torch.no_grad():
        _, dense = model.encode_image_with_dense(images)
        x = _tokens_before_last_block(model, images)
        blk = model.clip.visual.transformer.resblocks[-1]
        c = x.shape[-1]
        y = blk.ln_1(x)
        v = y @ blk.attn.in_proj_weight[2 * c :].T + blk.attn.in_proj_bias[2 * c :]
        x = x + blk.attn.out_proj(v)
        x = x + blk.mlp(blk.ln_2(x))
        want = _head(model, x[:, 1:]).reshape(1, 6, 8, -1)
    torch.testing.assert_close(dense, want, rtol=1e-4, atol=1e-5)


def test_dense_gradients_skip_last_mlp(tiny: FarSLIPModel) -> None:
    tiny.zero_grad(set_to_none=True)
    _, dense = tiny.encode_image_with_dense(torch.randn(1, 3, 64, 64))
    dense.square().sum().backward()
    v = tiny.clip.visual
    last, first = v.transformer.resblocks[-1], v.transformer.resblocks[0]
    assert last.attn.in_proj_weight.grad is not None and last.attn.in_proj_weight.grad.abs().sum() > 0
    assert first.mlp.c_fc.weight.grad is not None and v.proj.grad is not None
    assert last.mlp.c_fc.weight.grad is None and last.ln_2.weight.grad is None
    tiny.zero_grad(set_to_none=True)


def test_bad_sizes_and_names_give_clear_errors(tiny: FarSLIPModel) -> None:
    with pytest.raises(ValueError, match="multiple of the patch size 8"):
        tiny.encode_image_with_dense(torch.randn(1, 3, 60, 64))
    with pytest.raises(farslip_model.UnknownArchitectureError, match="ViT-B-16"):
        create_model("ViT-B16")
    with pytest.raises(ValueError, match="known tags"):
        create_model("FarSLIP-Tiny", "not-a-tag")
    with pytest.raises(ValueError, match="dense_variant"):
        create_model("FarSLIP-Tiny", dense_variant="sclip")
    assert "FarSLIP-Tiny" in farslip_model.list_models()


def test_tiny_contract_attributes(tiny: FarSLIPModel) -> None:
    assert (tiny.image_size, tiny.patch_size, tiny.embed_dim, tiny.context_length) == (64, 8, 64, 77)
    assert tiny.quick_gelu and type(tiny.clip.visual.transformer.resblocks[0].mlp.gelu).__name__ == "QuickGELU"
    tokens = tiny.tokenize(["a satellite image of a plane", "harbour"])
    assert tokens.shape == (2, 77) and tokens.dtype == torch.long
    assert tiny.encode_text(tokens).shape == (2, 64)
    tiny.clip.logit_scale.data.fill_(10.0)
    assert tiny.logit_scale_value().item() == pytest.approx(100.0)
    tiny.clip.logit_scale.data.fill_(2.0)
    out = tiny(torch.randn(1, 3, 64, 64), tokens, dense=True)
    assert set(out) == {"image_features", "dense_features", "text_features", "logit_scale"}


def test_vit_b16_random_init_is_quickgelu_with_a_14x14_grid() -> None:
    torch.manual_seed(0)
    model = create_model("ViT-B-16").eval()  # pretrained=None: nothing is downloaded
    assert model.quick_gelu and type(model.clip.visual.transformer.resblocks[0].mlp.gelu).__name__ == "QuickGELU"
    with torch.no_grad():
        cls, dense = model.encode_image_with_dense(torch.randn(1, 3, 224, 224))
    assert cls.shape == (1, 512) and dense.shape == (1, 14, 14, 512)


def test_quick_gelu_defaults_follow_the_pretrained_source() -> None:
    from farslip_model.model import _default_quick_gelu

    assert _default_quick_gelu("ViT-B-16", "openai") and _default_quick_gelu("ViT-B-32", None)
    assert not _default_quick_gelu("ViT-B-16", "laion2b_s34b_b88k")  # a GELU-trained LAION tag
    assert _default_quick_gelu("FarSLIP-Tiny", None)  # its config says quick_gelu
