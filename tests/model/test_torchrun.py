"""Two CPU processes under torchrun (gloo): losses gathered across ranks, first step equal to one
process with the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from farslip_model.config import load_config
from farslip_model.train import train

COMMON = ["schedule.max_steps=3", "data.image_size=32", "optim.lr=1e-3", "log.tensorboard=false",
          "checkpoint.every_steps=2", "log.every_steps=1"]


def test_torchrun_two_processes_match_one_process(built_shards: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    overrides = [f"data.path={built_shards}", f"output_dir={out}", "data.batch_size=4", *COMMON]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "farslip_model", "--config", "tiny-stage1"]
    for item in overrides:
        cmd += ["--set", item]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "[rank 0]" in proc.stderr and "step 3/3" in proc.stderr  # progress lines come from rank 0 only
    assert "[rank 1] INFO" not in proc.stderr
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3]
    ckpt = out / "checkpoints" / "step_0000002"
    assert (ckpt / "rng_rank0.json").is_file() and (ckpt / "rng_rank1.json").is_file()
    assert (out / "final" / "model.safetensors").is_file()

    single = train(load_config("tiny-stage1", [
        f"data.path={built_shards}", f"output_dir={tmp_path / 'single'}", "data.batch_size=8", *COMMON,
    ]))
    assert records[0]["loss"] == pytest.approx(single.losses[0], rel=1e-5)
    assert records[0]["loss_global"] == pytest.approx(single.terms[0]["loss_global"], rel=1e-5)
    assert records[0]["loss_distill"] == pytest.approx(single.terms[0]["loss_distill"], rel=1e-5)
