"""Config presets, files, dotted overrides and their errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from farslip_model.cli import main as cli_main
from farslip_model.config import ConfigError, config_to_dict, list_presets, load_config, save_config


def test_presets_load_and_reproduce_reference_hyperparameters() -> None:
    assert {"stage1", "stage2", "tiny-base", "tiny-stage1", "tiny-stage2"} <= set(list_presets())
    s1 = load_config("stage1")
    assert (s1.model.arch, s1.model.pretrained, s1.model.long_text) == ("ViT-B-16", "openai", False)
    optim = (s1.optim.lr, s1.optim.weight_decay, s1.optim.betas, s1.optim.eps)
    assert optim == (1e-6, 1.0, (0.9, 0.98), 1e-6)
    sizes = (s1.schedule.warmup_steps, s1.schedule.epochs, s1.data.batch_size, s1.data.max_boxes)
    assert sizes == (1000, 1, 40, 4)
    assert (s1.loss.w_global, s1.loss.w_distill, s1.loss.w_region) == (1.0, 0.1, 0.0)
    assert (s1.loss.distill_align, s1.loss.teacher, s1.data.crop_area) == ("roi2pooled", "active", (0.3, 0.7))
    s2 = load_config("stage2")
    assert (s2.optim.lr, s2.schedule.warmup_steps, s2.schedule.epochs) == (4e-9, 250, 10)
    assert s2.model.long_text and s2.model.pretrained == "runs/farslip-stage1/final"
    assert (s2.loss.w_region, s2.loss.w_distill, s2.loss.region_loss, s2.loss.region_feature) == (
        1.0, 0.0, "multi_positive", "crop_cls")
    assert (s2.data.min_object_side, s2.data.max_object_side, s2.data.color_augment) == (64, 1024, True)
    assert s2.data.region_template == "a satellite image of {category}"
    tiny = load_config("tiny-stage2")  # inherits stage2, overrides sizes
    assert tiny.model.arch == "FarSLIP-Tiny" and tiny.model.long_text and tiny.loss.w_region == 1.0
    assert load_config("tiny-base").loss.w_distill == 0.0


def test_overrides_are_typed() -> None:
    cfg = load_config("tiny-stage1", ["optim.lr=1e-3", "data.crop_area=[0.2, 0.5]", "schedule.max_steps=7",
                                      "data.path=/some/dir", "model.pretrained=null"])
    assert cfg.optim.lr == pytest.approx(1e-3) and isinstance(cfg.optim.lr, float)
    assert cfg.data.crop_area == (0.2, 0.5) and cfg.schedule.max_steps == 7
    assert cfg.data.path == "/some/dir" and cfg.model.pretrained is None


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("optim.lrr=1", "'lrr' is not in optim (valid: lr, weight_decay"),
        ("nosuch.key=1", "'nosuch' is not in the top level"),
        ("optim.lr.x=1", "optim.lr is not a section"),
        ("optim.lr=fast", "optim.lr: expected a number"),
        ("loss.teacher=student", "loss.teacher: 'student' is not one of ['active', 'ema', 'frozen']"),
        ("data.batch_size=0", "data.batch_size must be >= 1"),
        ("loss.w_region=1", "loss.w_region > 0 needs data.views=objects"),
        ("optim.lr", "is not of the form key.path=value"),
    ],
)
def test_bad_overrides_name_the_key(override: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config("tiny-stage1", [override])
    assert fragment in str(err.value)


def test_files_extends_and_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("extends: tiny-stage1\noptim:\n  lr: 0.002\nname: mine\n")
    cfg = load_config(str(path))
    assert (cfg.name, cfg.optim.lr, cfg.model.arch) == ("mine", 0.002, "FarSLIP-Tiny")
    save_config(cfg, tmp_path / "out.json")
    assert load_config(str(tmp_path / "out.json")) == cfg
    save_config(cfg, tmp_path / "out.yaml")
    assert load_config(str(tmp_path / "out.yaml")) == cfg
    assert json.loads((tmp_path / "out.json").read_text()) == config_to_dict(cfg)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"optim": {"learning_rate": 1}}))
    with pytest.raises(ConfigError, match="unknown config key 'optim.learning_rate'"):
        load_config(str(bad))
    with pytest.raises(ConfigError, match="unknown preset 'stage3'"):
        load_config("stage3")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "missing.yaml"))


def test_cli_prints_config_and_reports_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["--config", "tiny-stage2", "--set", "optim.lr=0.01", "--print-config"]) == 0
    assert "lr: 0.01" in capsys.readouterr().out
    assert cli_main(["--config", "tiny-stage2", "--set", "optim.bogus=1"]) == 2
    assert "optim.bogus" in capsys.readouterr().err
