"""CPU smoke runs of both stages on the tiny presets over shards built by mgrs_builder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from farslip_model.checkpoint import load_checkpoint
from farslip_model.config import load_config
from farslip_model.train import train

STEPS = 30


@pytest.mark.parametrize(
    ("preset", "terms"),
    [("tiny-stage1", {"loss_global", "loss_distill"}), ("tiny-stage2", {"loss_global", "loss_region"})],
)
def test_tiny_stage_loss_goes_down(built_shards: Path, tmp_path: Path, preset: str, terms: set[str]) -> None:
    out = tmp_path / preset
    cfg = load_config(preset, [
        f"data.path={built_shards}", f"output_dir={out}", f"schedule.max_steps={STEPS}",
        "data.image_size=32", "optim.lr=1e-3", "checkpoint.every_steps=0",
    ])
    result = train(cfg)
    losses = np.array(result.losses)
    assert len(losses) == STEPS == result.steps and np.isfinite(losses).all()
    first, last = losses[:8].mean(), losses[-8:].mean()
    assert last < first - 0.2, f"{preset}: loss did not go down ({first:.3f} -> {last:.3f})"
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == list(range(1, STEPS + 1))
    assert terms <= set(lines[0]) and {"lr", "logit_scale", "loss"} <= set(lines[0])
    assert all(0 <= r["logit_scale"] <= 100 for r in lines)
    assert any((out / "tensorboard").glob("events.out.tfevents.*"))
    model = load_checkpoint(result.final_checkpoint)
    assert model.long_text == (preset == "tiny-stage2")
