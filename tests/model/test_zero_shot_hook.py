"""The per-epoch zero-shot hook: runs farslip_eval.run_suite when configured, else logs a skip."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from farslip_model.config import load_config
from farslip_model.model import create_model
from farslip_model.train import run_zero_shot_hook, train


def _scene_root(root: Path) -> Path:
    ds = root / "synth_scenes"
    for name, colour in (("forest", (0, 150, 0)), ("lake", (0, 0, 200))):
        (ds / "images" / name).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (32, 32), colour).save(ds / "images" / name / f"{i}.png")
    (ds / "farslip_dataset.json").write_text(json.dumps({
        "suite": "zeroshot", "name": "synth_scenes", "layout": "folder", "image_dir": "images",
        "templates": ["a satellite image of {c}."],
    }))
    return root


def test_hook_skips_with_a_log_line(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    model = create_model("FarSLIP-Tiny")
    caplog.set_level(logging.INFO, logger="farslip_model.train")
    cfg = load_config("tiny-stage1")
    assert run_zero_shot_hook(model, cfg, 0, tmp_path, torch.device("cpu")) is None
    assert "skipped after epoch 0 (eval.data_root is not set)" in caplog.text
    monkeypatch.setitem(sys.modules, "farslip_eval", None)  # as if not installed
    cfg = load_config("tiny-stage1", [f"eval.data_root={tmp_path}"])
    assert run_zero_shot_hook(model, cfg, 1, tmp_path, torch.device("cpu")) is None
    assert "skipped after epoch 1 (farslip_eval is not available" in caplog.text


def test_hook_runs_farslip_eval_each_epoch(built_shards: Path, tmp_path: Path) -> None:
    pytest.importorskip("farslip_eval.suites", reason="farslip_eval is an optional dependency of the hook")
    data_root = _scene_root(tmp_path / "eval_data")
    out = tmp_path / "run"
    result = train(load_config("tiny-stage1", [
        f"data.path={built_shards}", f"output_dir={out}", "schedule.max_steps=6", "data.image_size=32",
        f"eval.data_root={data_root}", "eval.suite=zeroshot", "checkpoint.every_steps=0",
    ]))
    assert len(result.eval_results) == 1  # 6 steps = exactly one epoch
    (res,) = result.eval_results[0]
    assert res["dataset"] == "synth_scenes" and 0 <= res["metrics"]["top1"] <= 100
    assert json.loads((out / "eval.jsonl").read_text())["dataset"] == "synth_scenes"
    assert (out / "checkpoints" / "epoch_000" / "model.safetensors").is_file()
