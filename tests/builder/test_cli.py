"""The `mgrs` command line, in the forms the issue gives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from mgrs_builder.cli import main
from mgrs_builder.sources import list_readers
from tests.builder.test_build import make_sources


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    srcs = make_sources(root / "src")
    out = root / "out"
    args = ["build", "--out", str(out), *[f"{k}={v}" for k, v in srcs.items()], "--workers", "1",
            "--on-bad-record", "skip", "--captioner", "template", "--tile-size", "64", "--overlap", "16", "--quiet"]
    assert main(args) == 0
    return out


def test_sources_lists_one_line_per_reader(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sources"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(list_readers())
    name, fmt, task = lines[0].split("\t")
    assert name == list_readers()[0].name and fmt and task in ("detection", "instance", "segmentation")


def test_build_prints_summary_and_writes_report(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = json.loads((built / "build_report.json").read_text())
    assert set(report["sources"]) == {"dota", "isaid", "loveda"}
    assert report["config"]["on_bad_record"] == "skip"


def test_validate_exit_codes(built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(built)]) == 0
    assert capsys.readouterr().out.startswith("OK:")
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(built, bad)
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["categories"][0]["id"] = 999
    (bad / "manifest.json").write_text(json.dumps(manifest))
    assert main(["validate", str(bad)]) == 1
    assert "FAULT" in capsys.readouterr().out


def test_stats_and_show(built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "chart.png"
    assert main(["stats", str(built), "--png", str(png), "--markdown", str(tmp_path / "s.md")]) == 0
    out = capsys.readouterr().out
    assert "| id | category | objects | share |" in out and "small vehicle" in out
    assert Image.open(png).size[0] > 100
    from mgrs_builder.shards import iter_rows

    row = next(r for r in iter_rows(built) if r["objects"])
    assert main(["show", str(built), row["key"], "--out", str(tmp_path / "rec.png")]) == 0
    drawn = Image.open(tmp_path / "rec.png")
    assert drawn.height > drawn.width  # tile plus caption text below it
    assert main(["show", str(built), "no-such-key", "--out", str(tmp_path / "x.png")]) == 2
    assert "no record with key 'no-such-key'" in capsys.readouterr().err


def test_export_then_import(built: Path, tmp_path: Path) -> None:
    assert main(["export-farslip", str(built), "--out", str(tmp_path / "fs"), "--quiet"]) == 0
    assert (tmp_path / "fs" / "text_info.json").is_file()
    assert main(["import-farslip", str(tmp_path / "fs"), "--out", str(tmp_path / "back"), "--quiet"]) == 0
    assert main(["validate", str(tmp_path / "back")]) == 0


def test_bad_input_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--out", str(tmp_path / "o"), "dota"]) == 2
    assert "expected NAME=PATH" in capsys.readouterr().err
    assert main(["build", "--out", str(tmp_path / "o"), f"dota={tmp_path / 'none'}"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["build", "--out", str(tmp_path / "o"), f"dota={tmp_path}", "--map", "bad"]) == 2
    assert "SOURCE:LABEL=CANONICAL" in capsys.readouterr().err


def test_python_m_entry_point() -> None:
    proc = subprocess.run([sys.executable, "-m", "mgrs_builder", "sources"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and "dota\t" in proc.stdout
