"""A build killed part-way (SIGKILL of a real child process) resumes to byte-identical output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import mgrs_builder.build as build_mod
from mgrs_builder.build import WORK_DIR_NAME, build_dataset
from tests.builder.test_build import make_sources

REPO = Path(__file__).resolve().parents[2]
KILL_AFTER = 4
ARGS = {"tile_size": 64, "overlap": 16, "progress": False}

CHILD = textwrap.dedent(
    """
    import json, os, signal, sys
    from pathlib import Path
    import mgrs_builder.build as b

    kill_after = int(sys.argv[3])
    done = []
    original = b._write_checkpoint

    def write_then_maybe_die(*args, **kwargs):
        original(*args, **kwargs)
        done.append(1)
        if len(done) >= kill_after:
            os.kill(os.getpid(), signal.SIGKILL)

    b._write_checkpoint = write_then_maybe_die
    sources = {k: Path(v) for k, v in json.loads(sys.argv[2]).items()}
    b.build_dataset(Path(sys.argv[1]), sources, tile_size=64, overlap=16, progress=False)
    """
)


def _files(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_killed_build_resumes_to_identical_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sources = make_sources(tmp_path / "src")
    build_dataset(tmp_path / "full", sources, **ARGS)

    out = tmp_path / "resumed"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, str(script), str(out), json.dumps({k: str(v) for k, v in sources.items()}), str(KILL_AFTER)],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    checkpoints = list((out / WORK_DIR_NAME / "images").glob("*.arrow"))
    assert len(checkpoints) == KILL_AFTER
    assert not (out / "manifest.json").exists() and not list((out / "data").glob("*.parquet"))

    calls: list[str] = []
    original = build_mod.process_image

    def counting(task, settings):  # type: ignore[no-untyped-def]
        calls.append(task.image.image_id)
        return original(task, settings)

    monkeypatch.setattr(build_mod, "process_image", counting)
    report = build_dataset(out, sources, **ARGS)
    total_images = sum(s.images_in for s in report.sources.values())
    assert len(calls) == total_images - KILL_AFTER  # the checkpointed images were not redone
    assert _files(out) == _files(tmp_path / "full")


def test_changed_settings_discard_old_checkpoints(tmp_path: Path) -> None:
    sources = make_sources(tmp_path / "src")
    out = tmp_path / "out"
    work = out / WORK_DIR_NAME
    build_mod._prepare_work_dir(out, {"tile_size": 32}, [])
    (work / "images" / "000-00000000-stale.arrow").write_bytes(b"stale")
    build_dataset(out, sources, **ARGS)
    build_dataset(tmp_path / "ref", sources, **ARGS)
    assert not work.exists()
    assert _files(out) == _files(tmp_path / "ref")
