"""Checkpoint round trips: ours -> plain open_clip, released FarSLIP layouts -> ours, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import open_clip
import pytest
import torch
from safetensors.torch import save_file

from farslip_model import (
    CheckpointError,
    FarSLIPModel,
    create_model,
    load_checkpoint,
    load_state_dict_flexible,
    save_checkpoint,
)

torch.set_num_threads(1)


class NotATensor:
    """Any custom class makes a pickle that weights_only loading must refuse."""

    def __reduce__(self):  # noqa: ANN204 - pickle protocol
        return (print, ("this must never run",))


@pytest.fixture(scope="module")
def trained() -> FarSLIPModel:
    torch.manual_seed(0)
    model = create_model("FarSLIP-Tiny").eval()
    with torch.no_grad():  # move away from the init so a silent no-op load would be caught
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    return model


def _outputs(model, images: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        return model.encode_image(images), model.encode_text(tokens)


def test_ours_loads_in_plain_open_clip_with_identical_outputs(trained: FarSLIPModel, tmp_path: Path) -> None:
    out = save_checkpoint(trained, tmp_path / "ckpt", extra={"step": 7})
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors", "open_clip_config.json"]
    images, tokens = torch.randn(2, 3, 64, 64), trained.tokenize(["a port", "a farm"])
    want = _outputs(trained, images, tokens)
    plain, _, preprocess = open_clip.create_model_and_transforms(
        "FarSLIP-Tiny", pretrained=str(out / "model.safetensors")
    )
    plain.eval()
    for got, ref in zip(_outputs(plain, images, tokens), want):
        torch.testing.assert_close(got, ref, rtol=0, atol=0)
    via_dir = open_clip.create_model(f"local-dir:{out}").eval()  # open_clip_config.json route
    torch.testing.assert_close(_outputs(via_dir, images, tokens)[0], want[0], rtol=0, atol=0)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["arch"] == "FarSLIP-Tiny" and cfg["extra"] == {"step": 7} and cfg["long_text"] is False

    back = load_checkpoint(out)
    assert isinstance(back, FarSLIPModel) and back.load_report.ok
    for got, ref in zip(_outputs(back.eval(), images, tokens), want):
        torch.testing.assert_close(got, ref, rtol=0, atol=0)


def test_long_text_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(3)
    model = create_model("FarSLIP-Tiny", long_text=True).eval()
    with torch.no_grad():
        model.clip.positional_embedding_res.add_(0.1 * torch.randn_like(model.clip.positional_embedding_res))
    out = save_checkpoint(model, tmp_path / "long")
    assert not (out / "open_clip_config.json").exists()
    back = load_checkpoint(out).eval()
    assert back.long_text and back.context_length == 248
    tokens = model.tokenize(["ship " * 100])
    torch.testing.assert_close(back.encode_text(tokens), model.encode_text(tokens).detach(), rtol=0, atol=0)


def _released_layout(state: dict[str, torch.Tensor]) -> dict:
    """Like the reference trainer's epoch_N.pt: wrapped in state_dict, DDP 'module.' prefix."""
    return {
        "epoch": 10,
        "name": "farslip",
        "state_dict": {f"module.{k}": v.clone() for k, v in state.items()},
        "optimizer": {"state": {}, "param_groups": [{"lr": 1e-6, "weight_decay": 1.0, "params": [0, 1]}]},
    }


def test_farslip1_layout_loads_into_ours(trained: FarSLIPModel, tmp_path: Path) -> None:
    path = tmp_path / "FarSLIP1_Tiny.pt"
    torch.save(_released_layout(trained.clip.state_dict()), path)
    model = create_model("FarSLIP-Tiny", str(path)).eval()
    images, tokens = torch.randn(1, 3, 64, 64), trained.tokenize(["a bridge"])
    for got, ref in zip(_outputs(model, images, tokens), _outputs(trained, images, tokens)):
        torch.testing.assert_close(got, ref, rtol=0, atol=0)
    assert not model.long_text


def test_farslip2_layout_is_detected_as_long_clip(tmp_path: Path) -> None:
    torch.manual_seed(4)
    src = create_model("FarSLIP-Tiny", long_text=True).eval()
    with torch.no_grad():
        src.clip.positional_embedding_res.add_(0.1 * torch.randn_like(src.clip.positional_embedding_res))
    state = src.clip.state_dict()
    assert {"positional_embedding_res", "mask1", "mask2"} <= set(state)
    assert state["positional_embedding"].shape == (248, 64) and state["mask1"].shape == (248, 1)
    path = tmp_path / "FarSLIP2_Tiny.pt"
    torch.save(_released_layout(state), path)
    model = create_model("FarSLIP-Tiny", str(path)).eval()  # no long_text flag: the 248 rows decide
    assert model.long_text and model.context_length == 248
    tokens = src.tokenize(["ship " * 100])
    torch.testing.assert_close(model.encode_text(tokens), src.encode_text(tokens).detach(), rtol=0, atol=0)


def test_report_lists_missing_and_unexpected(trained: FarSLIPModel) -> None:
    state = {k: v.clone() for k, v in trained.clip.state_dict().items()}
    del state["ln_final.weight"]
    state["visual.extra_head.weight"] = torch.zeros(2)
    model = create_model("FarSLIP-Tiny")
    report = load_state_dict_flexible(model, {"state_dict": {f"module.{k}": v for k, v in state.items()}})
    assert report.missing == ["ln_final.weight"] and report.unexpected == ["visual.extra_head.weight"]
    assert "ln_final.weight" in report.summary()


def test_wrong_shapes_name_key_and_both_shapes(trained: FarSLIPModel, tmp_path: Path) -> None:
    state = {k: v.clone() for k, v in trained.clip.state_dict().items()}
    state["text_projection"] = torch.zeros(64, 32)
    with pytest.raises(CheckpointError, match=r"text_projection: checkpoint \(64, 32\) vs model \(64, 64\)"):
        load_state_dict_flexible(create_model("FarSLIP-Tiny"), state)
    path = tmp_path / "b32.safetensors"
    save_file(state, str(path))
    with pytest.raises(CheckpointError, match="text_projection"):
        create_model("FarSLIP-Tiny", str(path))


def test_bare_safetensors_file_infers_the_architecture(trained: FarSLIPModel, tmp_path: Path) -> None:
    path = tmp_path / "remoteclip_style.safetensors"
    save_file({k: v.contiguous() for k, v in trained.clip.state_dict().items()}, str(path))
    model = load_checkpoint(path)
    assert model.arch == "FarSLIP-Tiny" and model.load_report.ok


def test_unrestricted_pickle_is_refused(trained: FarSLIPModel, tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": dict(trained.clip.state_dict()), "payload": NotATensor()}, path)
    with pytest.raises(CheckpointError, match="weights_only"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="weights_only"):
        create_model("FarSLIP-Tiny", str(path))
    other = tmp_path / "weights.pkl"
    other.write_bytes(b"\x80\x04N.")
    with pytest.raises(CheckpointError, match="unknown checkpoint suffix"):
        load_checkpoint(other)


def test_folder_errors(tmp_path: Path, trained: FarSLIPModel) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="missing config.json"):
        load_checkpoint(tmp_path / "empty")
    out = save_checkpoint(trained, tmp_path / "c")
    with pytest.raises(TypeError, match="JSON"):
        save_checkpoint(trained, tmp_path / "d", extra={"bad": object()})
    (out / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CheckpointError, match="invalid JSON"):
        load_checkpoint(out)
