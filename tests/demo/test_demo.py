"""The one-command demo at the tiny preset with a few steps: every stage runs and the report is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from farslip_eval import demo_report


def test_chance_levels_are_those_of_a_random_guesser() -> None:
    import math

    # 100 images x 5 captions: t2i R@1 = 1/100, i2t R@1 = 5/500
    assert demo_report.retrieval_chance(100, 5, ks=(1,)) == pytest.approx(1.0)
    # 10 images: t2i R@10 = 1; i2t R@10 = 1 - P(none of the 5 right captions among 10 of 50)
    i2t = 1 - math.comb(45, 10) / math.comb(50, 10)
    assert demo_report.retrieval_chance(10, 5, ks=(10,)) == pytest.approx(100 * (1 + i2t) / 2)


def test_ovss_chance_for_balanced_classes(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    lab = np.array([[0, 1], [255, 1]], np.uint8)
    Image.fromarray(lab).save(tmp_path / "a.png")
    # shares 1/3 and 2/3 of valid pixels, K = 2: IoU_c = (p/2) / (p + 1/2 - p/2)
    expected = 100 * np.mean([(p / 2) / (p + 0.5 - p / 2) for p in (1 / 3, 2 / 3)])
    assert demo_report.ovss_chance([tmp_path / "a.png"], 2) == pytest.approx(expected)


def test_demo_runs_the_whole_chain_and_writes_the_report(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    import torch

    from farslip_eval.demo import main

    torch.set_num_threads(1)
    out = tmp_path / "demo"
    rc = main(["--out", str(out), "--preset", "tiny", "--steps-base", "2", "--steps-stage1", "1",
               "--steps-stage2", "1", "--batch-size", "4", "--panels", "1", "--threads", "1"])
    assert rc == 0
    printed = capsys.readouterr().out
    summary = out / "report" / "summary.md"
    assert f"report: {summary}" in printed
    text = summary.read_text()
    for model in ("base", "stage1", "stage2"):
        assert f"| {model} |" in text
    assert "| *chance* |" in text and "losses.png" in text
    results = json.loads((out / "report" / "results.json").read_text())
    for model in ("base", "stage1", "stage2"):
        assert {r["dataset"] for r in results["results"][model]} == {
            "synth_landcover", "synth_objects", "synth_scenes", "synth_captions"}
        assert (out / "runs" / model / "final").is_dir()
    steps = {"world", "build shards", "train base", "train stage1", "train stage2", "evaluate stage2"}
    assert set(results["timings_s"]) >= steps
    assert (out / "report" / "losses.png").stat().st_size > 0
    assert len(list((out / "report" / "predictions").glob("*_legend.png"))) == 2
    assert len(list((out / "report" / "predictions").glob("*.png"))) == 4  # 2 legends, 1 row per OVSS set
    assert (out / "shards" / "manifest.json").is_file()


def test_demo_names_a_flag_that_points_at_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from farslip_eval.demo import main

    assert main(["--out", str(tmp_path / "o"), "--world", str(tmp_path / "nope")]) == 2
    assert "no world.json" in capsys.readouterr().err
    assert main(["--out", str(tmp_path / "o"), "--set", "stage9:loss.w_global=1"]) == 2
    assert "STAGE:KEY=VALUE" in capsys.readouterr().err
