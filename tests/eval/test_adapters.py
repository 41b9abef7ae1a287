"""Encoder adapters: FarSLIP-layout and open_clip state dicts, Long-CLIP files, non-ViT models, errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import open_clip
import pytest
import torch
from open_clip.transformer import QuickGELU
from PIL import Image

from farslip_eval.encoders import (
    CheckpointMismatchError,
    EncoderLoadError,
    ImageTextEncoder,
    NoDenseReadoutError,
    load_encoder,
)


def _activation(encoder) -> type:  # type: ignore[no-untyped-def]
    clip = getattr(encoder.model, "clip", encoder.model)
    return type(clip.transformer.resblocks[0].mlp.gelu)


def _tiny_state(long_text: bool = False) -> dict[str, torch.Tensor]:
    from farslip_model import create_model

    torch.manual_seed(3)
    return {k: v.clone() for k, v in create_model("FarSLIP-Tiny", long_text=long_text).clip.state_dict().items()}


def test_farslip1_layout_training_checkpoint(tmp_path: Path) -> None:
    state = _tiny_state()
    path = tmp_path / "FarSLIP1_ViT-Tiny.pt"
    torch.save({"epoch": 1, "state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    enc = load_encoder("FarSLIP-Tiny", str(path))
    assert isinstance(enc, ImageTextEncoder)
    torch.testing.assert_close(enc.model.clip.visual.conv1.weight, state["visual.conv1.weight"])
    torch.testing.assert_close(enc.model.clip.text_projection, state["text_projection"])
    prov = enc.provenance
    assert prov["family"] == "FarSLIP" and prov["quick_gelu"] is True and prov["context_length"] == 77
    assert prov["checkpoint_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert _activation(enc) is QuickGELU
    assert enc.has_dense and enc.encode_dense(torch.zeros(1, 3, 64, 64)).shape == (1, 8, 8, 64)
    img = enc.preprocess(Image.new("RGB", (90, 70), (10, 200, 30)))
    assert img.shape == (3, 64, 64)
    feats = enc.encode_images(img[None])
    torch.testing.assert_close(feats.norm(dim=-1), torch.ones(1))


def test_farslip2_long_text_is_detected_from_the_weights(tmp_path: Path) -> None:
    state = _tiny_state(long_text=True)
    assert state["positional_embedding"].shape[0] == 248
    path = tmp_path / "FarSLIP2_ViT-Tiny.safetensors"
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    enc = load_encoder("FarSLIP-Tiny", str(path))
    assert enc.provenance["context_length"] == 248 and enc.context_length == 248
    assert enc.tokenize(["x"]).shape == (1, 248)
    long_caption = " ".join(["a harbour with many boats"] * 30)  # > 77 tokens
    emb = enc.encode_texts([long_caption, long_caption[:40]])
    assert emb.shape == (2, 64) and not torch.allclose(emb[0], emb[1])
    torch.testing.assert_close(enc.model.clip.positional_embedding, state["positional_embedding"])


@pytest.fixture(scope="module")
def gelu_vit(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny ViT config without a forced activation (FarSLIP-Tiny forces QuickGELU in its config)."""
    cfg = {"embed_dim": 32, "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16,
                                           "patch_size": 8},
           "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
    path = tmp_path_factory.mktemp("cfg") / "ViT-Test-Gelu.json"
    path.write_text(json.dumps(cfg), encoding="utf-8")
    open_clip.add_model_config(path)
    return "ViT-Test-Gelu"


@pytest.mark.parametrize(("fname", "quick"), [("RemoteCLIP-Tiny.pt", False), ("RS5M_Tiny.pt", True),
                                               ("SkyCLIP_Tiny.pt", False), ("FarSLIP1_Tiny.pt", True)])
def test_rs_clip_families_choose_their_activation(tmp_path: Path, gelu_vit: str, fname: str, quick: bool) -> None:
    torch.manual_seed(0)
    path = tmp_path / fname
    torch.save(open_clip.create_model(gelu_vit).state_dict(), path)
    enc = load_encoder(gelu_vit, str(path))
    assert enc.provenance["quick_gelu"] is quick
    assert (_activation(enc) is QuickGELU) is quick
    assert load_encoder(gelu_vit, str(path), quick_gelu=not quick).provenance["quick_gelu"] is (not quick)


def test_open_clip_vit_b16_state_dict(tmp_path: Path) -> None:
    torch.manual_seed(0)
    ref = open_clip.create_model("ViT-B-16", pretrained=None)
    state = {k: v.half() for k, v in ref.state_dict().items()}  # halves the file; loads into fp32
    path = tmp_path / "vit_b16_random.pt"
    torch.save(state, path)
    del ref
    enc = load_encoder("ViT-B-16", str(path))
    clip = enc.model.clip
    torch.testing.assert_close(clip.visual.conv1.weight, state["visual.conv1.weight"].float())
    torch.testing.assert_close(clip.token_embedding.weight, state["token_embedding.weight"].float())
    assert enc.image_size == 224 and enc.patch_size == 16 and enc.context_length == 77
    assert enc.provenance["arch"] == "ViT-B-16" and enc.provenance["load_report"]["missing"] == 0
    with torch.inference_mode():
        assert enc.encode_dense(torch.zeros(1, 3, 224, 224)).shape == (1, 14, 14, 512)


def test_wrong_architecture_and_truncated_files_are_errors(tmp_path: Path) -> None:
    state = _tiny_state()
    path = tmp_path / "tiny.pt"
    torch.save(state, path)
    with pytest.raises(CheckpointMismatchError, match="tiny.pt"):
        load_encoder("ViT-B-32", str(path))
    cut = tmp_path / "cut.pt"
    torch.save({k: v for k, v in state.items() if not k.startswith("visual.transformer")}, cut)
    with pytest.raises(CheckpointMismatchError, match=r"cut\.pt: \d+ weights .* not in the checkpoint"):
        load_encoder("FarSLIP-Tiny", str(cut))
    with pytest.raises(EncoderLoadError, match="missing.pt"):
        load_encoder("FarSLIP-Tiny", str(tmp_path / "missing.pt"))
    with pytest.raises(EncoderLoadError, match="unknown architecture"):
        load_encoder("ViT-Q-99", None)


class _NotWeights:
    pass


def test_untrusted_pickle_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"x": _NotWeights()}, path)
    with pytest.raises(EncoderLoadError, match="evil.pt"):
        load_encoder("FarSLIP-Tiny", str(path))


def test_farslip_checkpoint_folder(tmp_path: Path) -> None:
    from farslip_model import create_model, save_checkpoint

    torch.manual_seed(5)
    model = create_model("FarSLIP-Tiny")
    out = save_checkpoint(model, tmp_path / "run" / "final")
    enc = load_encoder(f"farslip:{out}", None)
    assert enc.provenance["arch"] == "FarSLIP-Tiny" and enc.has_dense
    weights = Path(out) / "model.safetensors"
    assert enc.provenance["checkpoint_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    torch.testing.assert_close(enc.model.clip.visual.proj, model.clip.visual.proj)
    assert enc.name == "farslip_run_final"


def test_non_vit_has_no_dense_readout(tmp_path: Path) -> None:
    cfg = {"embed_dim": 32, "vision_cfg": {"image_size": 32, "layers": [1, 1, 1, 1], "width": 8, "patch_size": None},
           "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
    (tmp_path / "RN-Test-Tiny.json").write_text(json.dumps(cfg), encoding="utf-8")
    open_clip.add_model_config(tmp_path / "RN-Test-Tiny.json")
    enc = load_encoder("RN-Test-Tiny", None)
    assert enc.has_dense is False and enc.provenance["dense_readout"] is None
    assert enc.encode_images(torch.zeros(2, 3, 32, 32)).shape == (2, 32)
    assert enc.encode_texts(["a road"]).shape == (1, 32)
    with pytest.raises(NoDenseReadoutError, match="no dense"):
        enc.encode_dense(torch.zeros(1, 3, 32, 32))
    from farslip_eval.ovss import evaluate, get_spec

    res = evaluate(enc, get_spec("loveda"), tmp_path)
    assert res["status"] == "skipped" and res["skipped"]["no_dense_readout"] == 1
