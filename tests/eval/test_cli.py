"""The farslip-eval CLI: help, list, missing datasets, bad input, exit codes, table errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from farslip_eval.cli import EXIT_FAILED, EXIT_NOTHING, EXIT_OK, EXIT_USAGE, main


def _scene_set(root: Path, name: str, label: str = "1") -> Path:
    folder = root / name
    (folder / "img").mkdir(parents=True)
    for i in range(2):
        Image.new("RGB", (8, 8), (i * 100, 50, 50)).save(folder / "img" / f"{i}.png")
    (folder / "classnames.txt").write_text("field\nport\n")
    (folder / "val.csv").write_text(f"filepath,label\nimg/0.png,0\nimg/1.png,{label}\n")
    (folder / "farslip_dataset.json").write_text(json.dumps(
        {"suite": "zeroshot", "name": name, "layout": "skyscript_csv", "csv": "val.csv"}))
    return folder


def test_help_is_quick_and_imports_no_torch() -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    code = "import sys, farslip_eval, farslip_eval.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    done = subprocess.run([sys.executable, "-m", "farslip_eval", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "exit codes" in done.stdout


def test_list_all_builtins_and_found_under_a_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == EXIT_OK
    text = capsys.readouterr().out
    for name in ("openearthmap", "isaid", "skyscript_cls", "eurosat", "whu_rs19", "rsicd", "ucm_captions"):
        assert name in text
    _scene_set(tmp_path, "my_scenes")
    assert main(["list", "--data-root", str(tmp_path), "--json"]) == EXIT_OK
    rows = json.loads(capsys.readouterr().out)
    status = {r["name"]: r["status"] for r in rows}
    assert status["my_scenes"] == "found" and status["aid"] == "missing" and status["loveda"] == "missing"
    assert next(r for r in rows if r["name"] == "my_scenes")["custom"] is True


def test_run_reports_missing_and_exits_3_when_nothing_is_found(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["-q", "run", "--suite", "retrieval", "--data-root", str(tmp_path), "--model", "FarSLIP-Tiny",
                 "--pretrained", "none"])
    err = capsys.readouterr().err
    assert code == EXIT_NOTHING
    assert "missing: retrieval/rsicd (expected RSICD/*test*.csv" in err and "nothing to evaluate" in err


@pytest.mark.parametrize(("argv", "message"), [
    (["--dataset", "no_such_set"], "unknown dataset(s) ['no_such_set']"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
])
def test_run_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                          message: str) -> None:
    code = main(["-q", "run", "--suite", "zeroshot", "--data-root", str(tmp_path), "--model", "FarSLIP-Tiny",
                 "--pretrained", "none", *argv])
    assert code == EXIT_USAGE and message in capsys.readouterr().err


def test_run_needs_pretrained_and_an_existing_root(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--suite", "all", "--data-root", str(tmp_path), "--model", "ViT-B-16"]) == EXIT_USAGE
    assert "--pretrained is required" in capsys.readouterr().err
    assert main(["run", "--suite", "all", "--data-root", str(tmp_path / "nope"), "--model", "ViT-B-16",
                 "--pretrained", "none"]) == EXIT_USAGE
    assert "is not a folder" in capsys.readouterr().err


def test_descriptor_clashing_with_a_builtin_is_a_clear_error(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    _scene_set(tmp_path, "aid")
    assert main(["list", "--data-root", str(tmp_path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "farslip_dataset.json" in err and "clashes with a built-in" in err


def test_a_bad_dataset_fails_alone_with_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _scene_set(tmp_path, "good_scenes")
    _scene_set(tmp_path, "bad_scenes", label="7")
    out = tmp_path / "out"
    code = main(["-q", "run", "--suite", "zeroshot", "--data-root", str(tmp_path), "--model", "FarSLIP-Tiny",
                 "--pretrained", "none", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == EXIT_FAILED
    assert "FAILED: bad_scenes" in captured.err and "label 7 outside the 2 classes" in captured.err
    assert "line 3" in captured.err
    assert [p.name for p in out.rglob("*.json")] == ["good_scenes.json"]
    assert "good_scenes" in captured.out


def test_table_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["table", str(tmp_path)]) == EXIT_USAGE
    assert "no result JSON files" in capsys.readouterr().err
    (tmp_path / "x.json").write_text(json.dumps({"schema_version": 99}))
    assert main(["table", str(tmp_path)]) == EXIT_USAGE
    assert "x.json" in capsys.readouterr().err


def test_show_options_go_to_the_show_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["show", "--help"])
    assert info.value.code == 0 and "usage: farslip-eval show" in capsys.readouterr().out
