"""The synthetic world at the ``tiny`` preset: determinism, native layouts, the project's readers,
build + validate, and the evaluation loaders."""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mgrs_builder.errors import MgrsBuilderError
from mgrs_builder.synthetic import SCENES, generate_world
from mgrs_builder.synthetic.objects import ISAID_PALETTE, KINDS
from mgrs_builder.synthetic.writers import LANDCOVER_CLASSES, OBJECT_CLASSES


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "world.json"
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world") / "w"
    generate_world(out, "tiny", seed=0, progress=False)
    return out


@pytest.fixture(scope="module")
def meta(world: Path) -> dict:
    return json.loads((world / "world.json").read_text())


def test_deterministic_for_a_seed_and_different_across_seeds(world: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate_world(again, "tiny", seed=0, progress=False)
    assert _digest(again) == _digest(world)
    other = tmp_path / "other"
    generate_world(other, "tiny", seed=1, progress=False)
    a, b = _digest(world), _digest(other)
    assert sum(a[k] != b.get(k) for k in a) > len(a) // 2


def test_bad_arguments_are_named(tmp_path: Path, world: Path) -> None:
    with pytest.raises(MgrsBuilderError, match="unknown world preset 'huge'"):
        generate_world(tmp_path / "x", "huge")
    with pytest.raises(MgrsBuilderError, match="not empty"):
        generate_world(world, "tiny")


def test_world_json_lists_categories_scenes_and_counts(meta: dict) -> None:
    assert meta["seed"] == 0 and meta["preset"] == "tiny"
    assert len(meta["scene_classes"]) == len(SCENES) >= 10
    assert {c["name"] for c in meta["categories"]} == set(KINDS) and len(KINDS) >= 8
    assert meta["counts"]["dota"]["images"] == 4
    train, ev = set(meta["streams"]["train"].values()), set(meta["streams"]["eval"].values())
    assert not train & ev


def test_dota_source_reads_back_with_the_generator_counts(world: Path, meta: dict) -> None:
    from mgrs_builder.sources import get_reader

    images = list(get_reader("dota").iter_images(world / "sources" / "dota"))
    assert len(images) == meta["counts"]["dota"]["images"]
    read = Counter(o.label for img in images for o in img.objects)
    assert read == Counter(meta["counts"]["dota"]["by_label"]) and sum(read.values()) > 0
    first = images[0]
    assert first.gsd is not None and 0.6 <= first.gsd <= 1.2
    header = (world / "sources" / "dota" / "labelTxt" / f"{first.image_id}.txt").read_text().splitlines()[:2]
    assert header[0] == "imagesource:synthetic" and header[1].startswith("gsd:")
    for obj in first.objects:  # oriented boxes lie inside the image
        xs, ys = zip(*obj.polygon)
        assert 0 <= min(xs) and max(xs) <= 128 and 0 <= min(ys) and max(ys) <= 128


def test_isaid_source_reads_back_with_the_generator_counts(world: Path, meta: dict) -> None:
    from mgrs_builder.sources import get_reader

    images = list(get_reader("isaid").iter_images(world / "sources" / "isaid"))
    assert len(images) == meta["counts"]["isaid"]["images"]
    read = Counter(o.label for img in images for o in img.objects)
    assert read == Counter(meta["counts"]["isaid"]["by_label"]) and sum(read.values()) > 0
    mask = images[0].image_path.with_name(f"{images[0].image_id}_instance_color_RGB.png")
    colours = np.asarray(Image.open(mask))
    assert {tuple(c) for c in colours.reshape(-1, 3)} <= set(ISAID_PALETTE.values())


def test_loveda_source_reads_back(world: Path) -> None:
    from mgrs_builder.sources import get_reader

    root = world / "sources" / "loveda"
    masks = sorted(root.glob("Train/*/masks_png/*.png"))
    assert masks and all(set(np.unique(np.asarray(Image.open(m)))) <= set(range(1, 8)) for m in masks)
    images = list(get_reader("loveda").iter_images(root))
    assert len(images) == len(masks)
    labels = {o.label for img in images for o in img.objects}
    assert labels and labels <= set(get_reader("loveda").labels)


def test_build_over_the_three_sources_validates(world: Path, tmp_path: Path) -> None:
    from mgrs_builder.build import build_dataset
    from mgrs_builder.validate import validate_dataset

    out = tmp_path / "shards"
    sources = {n: world / "sources" / n for n in ("dota", "isaid", "loveda")}
    build_dataset(out, sources, tile_size=128, overlap=32, progress=False)
    result = validate_dataset(out)
    assert not result.faults, result.faults
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["counts"]["by_source"]) == {"dota", "isaid", "loveda"}


def test_ovss_sets_follow_segearth_layout(world: Path) -> None:
    for name, classes in (("synth_landcover", LANDCOVER_CLASSES), ("synth_objects", OBJECT_CLASSES)):
        root = world / "eval" / name
        text = (root / "classes.txt").read_text()
        assert text.split("\n") == list(classes) and not text.endswith("\n")
        desc = json.loads((root / "farslip_dataset.json").read_text())
        assert desc["suite"] == "ovss" and (desc["fit_size"], desc["window"], desc["stride"]) == (128, 64, 32)
        for ann in (root / "ann_dir" / "val").glob("*.png"):
            values = set(np.unique(np.asarray(Image.open(ann))).tolist())
            assert values <= set(range(len(classes))) | {255}
            assert (root / "img_dir" / "val" / ann.name).is_file()


def test_eval_scenes_are_disjoint_from_training_scenes(world: Path) -> None:
    train = set()
    for tar in (world / "captions").glob("*.tar"):
        with tarfile.open(tar) as tf:
            train |= {_sha(tf.extractfile(m).read()) for m in tf if m.name.endswith(".png")}
    evals = {_sha(p.read_bytes()) for p in (world / "eval").rglob("*.png") if "ann_dir" not in p.parts}
    assert train and evals and not train & evals


def test_eval_sets_load_through_farslip_eval(world: Path) -> None:
    from farslip_eval.ovss.data import OvssDataset
    from farslip_eval.registry import discover
    from farslip_eval.retrieval import load_retrieval
    from farslip_eval.zeroshot import load_classification

    found = {d.entry.name: d for d in discover(world / "eval").found if d.entry.custom}
    assert set(found) == {"synth_landcover", "synth_objects", "synth_scenes", "synth_captions"}
    for name in ("synth_landcover", "synth_objects"):
        ds = OvssDataset(found[name].entry.spec)
        assert len(ds) == 3 and all(s is not None for s in ds)
    scenes = found["synth_scenes"]
    data = load_classification(scenes.root, "folder", name="synth_scenes", **dict(scenes.layout.options))
    assert sorted(data.classnames) == sorted(SCENES) and len(data.samples) == 2 * len(SCENES)
    ret = found["synth_captions"]
    rdata = load_retrieval(ret.root, "karpathy", name="synth_captions", **dict(ret.layout.options))
    assert len(rdata.items) == 10 and rdata.num_captions == 50


def test_caption_corpus_is_a_webdataset(world: Path, meta: dict) -> None:
    from farslip_model.sources import WebDatasetSource

    src = WebDatasetSource(world / "captions")
    counts = meta["counts"]["captions"]
    assert sum(src.shard_sizes) == counts["samples"] == 2 * counts["images"]
    rec = src.read(0, [0])[0]
    assert rec.caption_short and rec.open_image().size == (128, 128)


def test_cli_writes_a_world_and_names_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from mgrs_builder.synthetic.__main__ import main

    assert main([str(tmp_path / "w"), "--preset", "tiny", "--seed", "3", "--quiet"]) == 0
    assert json.loads((tmp_path / "w" / "world.json").read_text())["seed"] == 3
    assert main([str(tmp_path / "w"), "--preset", "tiny", "--quiet"]) == 2
    assert "not empty" in capsys.readouterr().err


@pytest.mark.slow
def test_default_preset_generates_in_under_a_minute(tmp_path: Path) -> None:
    import time

    t0 = time.process_time()
    info = generate_world(tmp_path / "w", "default", seed=0, progress=False)
    assert time.process_time() - t0 < 60.0
    assert info.counts["synth_scenes"]["by_class"] == {name: 20 for name in SCENES}
