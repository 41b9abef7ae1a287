"""Captioners: the deterministic template backend, a tiny transformers model, no torch at import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from mgrs_builder.captions import (CaptionObject, HFCaptioner, TemplateCaptioner, TileContext, make_captioner)
from mgrs_builder.errors import MgrsBuilderError


def _tile() -> TileContext:
    objs = [CaptionObject("small vehicle", (2, 2, 8, 8)), CaptionObject("small vehicle", (4, 3, 9, 9)),
            CaptionObject("storage tank", (50, 50, 60, 60), truncated=True), CaptionObject("plane", (28, 28, 36, 36))]
    return TileContext(width=64, height=64, objects=objs, gsd=0.5)


def test_template_captions_are_deterministic_and_describe_objects() -> None:
    cap = TemplateCaptioner().caption(_tile())
    assert cap == TemplateCaptioner().caption(_tile())
    assert cap.short == "An aerial image with two small vehicles, a plane and a storage tank."
    assert "32 by 32 metres at 0.5 m per pixel" in cap.long
    assert "two small vehicles are in the top left" in cap.long.lower()
    assert "a plane is in the center" in cap.long.lower()
    assert "a storage tank is in the bottom right" in cap.long.lower()
    assert "cut by the image border" in cap.long
    assert (cap.backend, cap.model) == ("template-v1", None)


def test_template_without_objects_or_gsd() -> None:
    cap = TemplateCaptioner().caption(TileContext(width=40, height=30))
    assert cap.short == "An aerial image with no annotated objects."
    assert cap.long.startswith("An aerial image of 40 by 30 pixels.")


def test_make_captioner_specs() -> None:
    assert isinstance(make_captioner("template"), TemplateCaptioner)
    hf = make_captioner("hf:some/model", prompt_long="describe")
    assert isinstance(hf, HFCaptioner) and hf.model == "some/model" and hf.prompt_long == "describe"
    with pytest.raises(MgrsBuilderError, match="expected 'template' or 'hf:MODEL_ID'"):
        make_captioner("llava")


def test_import_never_pulls_in_torch() -> None:
    code = "import sys, mgrs_builder, mgrs_builder.captions, mgrs_builder.build; print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "False", proc.stderr


@pytest.fixture(scope="module")
def tiny_blip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised BLIP captioner with a 40-word vocabulary, saved locally (no download)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("blip")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"abcdefghijklmnopqrstuvwxyz", "an", "aerial", "image", "of"]
    (d / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tok = transformers.BertTokenizer(str(d / "vocab.txt"), model_max_length=32)
    proc = transformers.BlipProcessor(image_processor=transformers.BlipImageProcessor(size={"height": 32, "width": 32}),
                                      tokenizer=tok)
    cfg = transformers.BlipConfig(
        text_config={"vocab_size": len(vocab), "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                     "intermediate_size": 37, "max_position_embeddings": 64, "bos_token_id": 2, "sep_token_id": 3,
                     "pad_token_id": 0},
        vision_config={"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 37,
                       "image_size": 32, "patch_size": 8},
        projection_dim=32,
    )
    model_dir = d / "model"
    transformers.BlipForConditionalGeneration(cfg).save_pretrained(model_dir)
    proc.save_pretrained(model_dir)
    return model_dir


@pytest.fixture(scope="module")
def hf_captioner(tiny_blip: Path) -> HFCaptioner:
    """One loaded captioner shared by the tests below (loading transformers models is the slow part)."""
    return HFCaptioner(str(tiny_blip), prompt_long="an aerial image of", max_new_tokens_short=3,
                       max_new_tokens_long=3)


def test_hf_captioner_with_a_tiny_model(hf_captioner: HFCaptioner, tiny_blip: Path) -> None:
    img = Image.new("RGB", (40, 40), (120, 80, 20))
    first = hf_captioner.caption(TileContext(width=40, height=40, image=img))
    assert first == hf_captioner.caption(TileContext(width=40, height=40, image=img))  # greedy decoding
    assert first.backend == "hf" and first.model == str(tiny_blip)
    assert first.short and first.long.startswith("an aerial image of")
    with pytest.raises(MgrsBuilderError, match="needs the tile image"):
        hf_captioner.caption(TileContext(width=1, height=1))


def test_build_records_the_hf_backend_and_model(hf_captioner: HFCaptioner, tiny_blip: Path, tmp_path: Path) -> None:
    from mgrs_builder.build import build_dataset
    from mgrs_builder.shards import iter_rows
    from tests.builder.fixtures import dota

    build_dataset(tmp_path / "out", {"dota": dota.make(tmp_path / "src")}, tile_size=512, overlap=128,
                  captioner=hf_captioner, progress=False)  # one tile per image: few generate calls
    rows = list(iter_rows(tmp_path / "out"))
    assert rows and all(r["caption_backend"] == "hf" and r["caption_model"] == str(tiny_blip) for r in rows)
    assert all(r["caption_long"].startswith("an aerial image of") for r in rows)
    report = json.loads((tmp_path / "out" / "build_report.json").read_text())
    assert report["config"]["captioner"] == f"hf:{tiny_blip}"
    import pickle

    assert pickle.loads(pickle.dumps(hf_captioner))._model is None  # workers load their own copy
