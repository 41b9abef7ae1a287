"""Every suite end to end on tiny generated datasets with a tiny random model, then the table."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from farslip_eval.cli import main
from farslip_eval.results import SCHEMA_VERSION, read_results

COLOURS = {"building": (200, 40, 40), "forest": (30, 160, 40), "water": (30, 60, 200)}


def _img(path: Path, colour: tuple[int, int, int], size: int = 24) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(abs(hash(path.name)) % 2**32)
    noise = rng.integers(-20, 20, (size, size, 3))
    arr = np.clip(np.array(colour)[None, None] + noise, 0, 255).astype(np.uint8)
    Image.fromarray(arr).save(path)


def _data_root(root: Path) -> Path:
    # OVSS descriptor dataset: two 40x40 images with a 3-class label map.
    ov = root / "synth_landcover"
    (ov / "img_dir/val").mkdir(parents=True)
    (ov / "ann_dir/val").mkdir(parents=True)
    for i in range(2):
        label = np.zeros((40, 40), np.uint8)
        label[:, 20:] = 1
        label[30:, :] = 2
        label[0, 0] = 255  # ignore index
        rgb = np.zeros((40, 40, 3), np.uint8)
        for k, c in enumerate(COLOURS.values()):
            rgb[label == k] = c
        Image.fromarray(rgb).save(ov / f"img_dir/val/t{i}.png")
        Image.fromarray(label).save(ov / f"ann_dir/val/t{i}.png")
    (ov / "classes.txt").write_text("building,roof\nforest,tree\nwater")
    (ov / "farslip_dataset.json").write_text(json.dumps({
        "suite": "ovss", "name": "synth_landcover", "img_dir": "img_dir/val", "ann_dir": "ann_dir/val",
        "img_suffix": ".png", "seg_map_suffix": ".png", "class_file": "classes.txt",
        "reduce_zero_label": False,
        "ignore_index": 255, "bg_idx": None, "prob_thd": 0.0, "fit_size": 64, "window": 32, "stride": 16}))
    # Zero-shot: a descriptor folder set and the built-in UC Merced layout.
    zs = root / "synth_scenes"
    for cls, col in COLOURS.items():
        for i in range(2):
            _img(zs / "images" / cls / f"{cls}_{i}.png", col)
            _img(root / "UCMerced_LandUse" / "Images" / cls / f"{cls}{i:02d}.tif", col)
    (zs / "farslip_dataset.json").write_text(json.dumps({
        "suite": "zeroshot", "name": "synth_scenes", "layout": "folder", "image_dir": "images",
        "templates": ["a satellite image of {c}."]}))
    # Retrieval: a Karpathy descriptor set and the built-in RSITMD layout in its VT-RSBS form.
    rt = root / "synth_captions"
    images = []
    for i, (cls, col) in enumerate(COLOURS.items()):
        _img(rt / "images" / f"{i}.png", col)
        images.append({"filename": f"{i}.png", "split": "test",
                       "sentences": [{"raw": f"a {cls} area"}, {"raw": "an aerial view"}]})
    (rt / "dataset_synth.json").write_text(json.dumps({"images": images}))
    (rt / "farslip_dataset.json").write_text(json.dumps({
        "suite": "retrieval", "name": "synth_captions", "layout": "karpathy", "json": "dataset_synth.json",
        "image_dir": "images", "split": "test"}))
    rs = root / "RSITMD"
    lines = [",filename,img_id,split,label,sent_id,sentence"]
    for i, (cls, col) in enumerate(COLOURS.items()):
        _img(rs / "images" / f"{cls}_{i}.tif", col)
        captions = f"[\'many {cls}\', \'a {cls} scene\']"
        lines.append(f'{i},{cls}_{i}.tif,{i},test,{cls},"[{2 * i}, {2 * i + 1}]","{captions}"')
    lines.append('9,extra.tif,9,train,x,"[9]","[\'train only\']"')
    (rs / "RSITMD.csv").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="module")
def run_all(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("e2e")
    root = _data_root(base / "data")
    out = base / "results"
    code = main(["-q", "run", "--suite", "all", "--data-root", str(root), "--model", "FarSLIP-Tiny",
                 "--pretrained", "none", "--out", str(out), "--batch-size", "4", "--bg-threshold", "off"])
    return root, out, code


def test_every_suite_writes_a_result_file(run_all: tuple[Path, Path, int]) -> None:
    _, out, code = run_all
    assert code == 0
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.json"))
    assert files == [
        "FarSLIP-Tiny__random/ovss/synth_landcover.json",
        "FarSLIP-Tiny__random/retrieval/rsitmd.json",
        "FarSLIP-Tiny__random/retrieval/synth_captions.json",
        "FarSLIP-Tiny__random/zeroshot/synth_scenes.json",
        "FarSLIP-Tiny__random/zeroshot/ucm.json",
    ]
    results = {r["dataset"]: r for r in read_results(out)}
    for r in results.values():
        assert r["schema_version"] == SCHEMA_VERSION
        assert r["model"]["arch"] == "FarSLIP-Tiny" and r["model"]["pretrained"] is None
        assert r["timings"]["total_s"] > 0 and r["timings"]["started_utc"]
    ov = results["synth_landcover"]
    assert ov["protocol"]["bg_threshold"] == "off" and set(ov["metrics"]["per_class_IoU"]) == {
        "building", "forest", "water"}
    assert 0 <= ov["metrics"]["mIoU"] <= 100 and ov["metrics"]["num_images"] == 2
    zs = results["ucm"]
    assert zs["protocol"]["layout"] == "folder" and zs["protocol"]["num_classes"] == 3
    assert zs["metrics"]["top5"] is None and 0 <= zs["metrics"]["top1"] <= 100
    assert results["synth_scenes"]["protocol"]["templates"] == ["a satellite image of {c}."]
    assert results["synth_scenes"]["metrics"]["num_samples"] == 6
    rt = results["rsitmd"]
    assert rt["protocol"]["layout"] == "vtrsbs_csv" and rt["protocol"]["num_images"] == 3
    assert rt["protocol"]["num_texts"] == 6 and rt["protocol"]["caption_prefix"] == "a satellite image. "
    assert rt["metrics"]["i2t_R@10"] == 100.0  # only 6 texts: every image finds its captions in the top 10
    ct = results["synth_captions"]
    assert ct["protocol"]["num_texts"] == 4  # "an aerial view" carried by all 3 images is merged
    assert set(ct["metrics"]) >= {"i2t_R@1", "i2t_R@5", "i2t_R@10", "t2i_R@1", "t2i_R@5", "t2i_R@10",
                                  "mean_recall"}


def test_table_beside_the_paper(run_all: tuple[Path, Path, int], capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_all
    assert main(["table", str(out)]) == 0
    md = (out / "table.md").read_text()
    assert md.strip() in capsys.readouterr().out  # printed as well as written
    assert "## OVSS mIoU (%)" in md and "--bg-threshold off" in md
    ours = [ln for ln in md.splitlines() if ln.startswith("| ours |")]
    assert len(ours) == 3 and all("FarSLIP-Tiny__random" in ln for ln in ours)
    assert "| paper | B/16 | FarSLIP2 | published | 34.39 |" in md
    header_zs = next(ln for ln in md.splitlines() if ln.startswith("| Source") and "SkyScript" in ln)
    assert "synth_scenes" in header_zs and "ucm" in header_zs
    with (out / "table.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    mine = {(r["suite"], r["column"]) for r in rows if r["source"] == "ours"}
    assert mine == {("ovss", "synth_landcover"), ("zeroshot", "synth_scenes"), ("zeroshot", "ucm"),
                    ("retrieval", "RSITMD I2T"), ("retrieval", "RSITMD T2I"),
                    ("retrieval", "synth_captions I2T"), ("retrieval", "synth_captions T2I")}
    result = json.loads((out / "FarSLIP-Tiny__random/retrieval/rsitmd.json").read_text())
    value = next(float(r["value"]) for r in rows if r["source"] == "ours" and r["column"] == "RSITMD T2I")
    assert value == pytest.approx(result["metrics"]["t2i_mean"], abs=1e-4)
    paper = [r for r in rows if r["source"] == "paper" and r["suite"] == "zeroshot" and r["column"] == "Mean"]
    assert len(paper) == 11 and {r["value"] for r in paper} >= {"62.2400"}


class _NoDense:
    """The tiny encoder seen as a model without a dense readout."""

    def __init__(self, inner: object) -> None:
        self._inner = inner
        self.has_dense = False

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


def test_python_api_protocol_option_and_no_dense_skip(run_all: tuple[Path, Path, int],
                                                      tmp_path: Path) -> None:
    from farslip_eval import load_encoder, run_suite
    from farslip_eval.suites import run_datasets

    root, _, _ = run_all
    encoder = load_encoder("FarSLIP-Tiny", None)
    results = run_suite(encoder, "retrieval", root, datasets=["synth_captions"], out_dir=tmp_path,
                        batch_size=8, protocol="clip_benchmark")
    assert len(results) == 1 and results[0]["protocol"]["name"] == "clip_benchmark"
    assert results[0]["protocol"]["num_texts"] == 6 and results[0]["protocol"]["caption_prefix"] == ""
    written = json.loads((tmp_path / "FarSLIP-Tiny__random/retrieval/synth_captions.json").read_text())
    assert written == results[0]
    report = run_datasets(_NoDense(encoder), "ovss", root, out_dir=tmp_path / "nd")
    assert report.results == [] and [n for n, _ in report.skipped] == ["synth_landcover"]
    assert "dense" in report.skipped[0][1] and not (tmp_path / "nd").exists()
    with pytest.raises(TypeError, match="unknown run options"):
        run_suite(encoder, "zeroshot", root, bogus=1)


def test_result_files_round_trip_and_reject_other_schemas(tmp_path: Path) -> None:
    from farslip_eval.results import ResultFileError, make_result, read_result, write_result

    result = make_result("zeroshot", "a/b", {"name": "ViT-B-16@openai", "slug": "ViT-B-16__openai"},
                         {"top1": float("nan"), "top5": np.float32(50.0)}, {"templates": ("x {c}",)},
                         {"total_s": 1.0})
    path = write_result(result, tmp_path)
    assert path == tmp_path / "ViT-B-16__openai" / "zeroshot" / "a_b.json"
    back = read_result(path)
    assert back["metrics"] == {"top1": None, "top5": 50.0} and back["protocol"]["templates"] == ["x {c}"]
    path.write_text(json.dumps({**back, "schema_version": 2}))
    with pytest.raises(ResultFileError, match="schema_version 2"):
        read_result(path)


def test_show_is_delegated_and_writes_a_png(run_all: tuple[Path, Path, int], tmp_path: Path) -> None:
    root, _, _ = run_all
    png = tmp_path / "show.png"
    code = main(["-q", "show", "--model", "FarSLIP-Tiny", "--pretrained", "none", "--dataset",
                 "synth_landcover", "--data-root", str(root), "--out", str(png), "--bg-threshold", "off"])
    assert code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
