"""Resuming from a mid-run step checkpoint continues exactly like the uninterrupted run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from farslip_model.config import load_config
from farslip_model.train import train
from farslip_model.train_state import TrainStateError

# 6 steps per epoch on the built shards: the resume point (4) is mid-epoch and the run crosses an epoch
STEPS = 10


def _config(preset: str, shards: Path, out: Path, *extra: str):
    return load_config(preset, [
        f"data.path={shards}", f"output_dir={out}", f"schedule.max_steps={STEPS}", "data.image_size=32",
        "optim.lr=1e-3", "checkpoint.every_steps=4", "checkpoint.keep_last=null", "log.tensorboard=false",
        *extra,
    ])


def _losses(out: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())}


def test_resume_stage1_ema_teacher_is_exact(built_shards: Path, tmp_path: Path) -> None:
    # the EMA teacher's state and micro-batch accumulation must survive the resume too
    accum = ("loss.teacher=ema", "data.batch_size=4", "optim.accum_steps=2")
    full = train(_config("tiny-stage1", built_shards, tmp_path / "full", *accum))
    mid = tmp_path / "full" / "checkpoints" / "step_0000004"
    assert mid.is_dir()
    resumed_dir = tmp_path / "resumed"
    resumed = train(_config("tiny-stage1", built_shards, resumed_dir, *accum, f"checkpoint.resume={mid}"))
    assert resumed.steps == STEPS and len(resumed.losses) == STEPS - 4
    assert resumed.losses == full.losses[4:]  # bit-identical, not approximately equal
    assert resumed.terms == full.terms[4:]


def test_resume_latest_stage2_in_place(built_shards: Path, tmp_path: Path) -> None:
    full_dir, cut_dir = tmp_path / "full", tmp_path / "cut"
    train(_config("tiny-stage2", built_shards, full_dir))
    shutil.copytree(full_dir, cut_dir)
    for later in ("step_0000008", "step_0000010"):
        shutil.rmtree(cut_dir / "checkpoints" / later)
    shutil.rmtree(cut_dir / "final")
    train(_config("tiny-stage2", built_shards, cut_dir, "checkpoint.resume=latest"))
    assert _losses(cut_dir) == _losses(full_dir)  # metrics.jsonl of the resumed run drops and redoes steps 5+
    assert len(_losses(cut_dir)) == STEPS


def test_resume_from_a_non_checkpoint_is_a_clear_error(built_shards: Path, tmp_path: Path) -> None:
    with pytest.raises(TrainStateError, match="not a step checkpoint"):
        train(_config("tiny-stage1", built_shards, tmp_path / "x", f"checkpoint.resume={tmp_path}"))
