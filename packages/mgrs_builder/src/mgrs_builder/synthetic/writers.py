"""Writers for the native layouts: DOTA, iSAID, LoveDA, SegEarth-OV OVSS sets, folder-per-class scenes,
Karpathy-style captions. Each writer takes rendered scenes and returns what it wrote, for world.json."""

from __future__ import annotations

import io
import json
import tarfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from .objects import ISAID_PALETTE, KINDS
from .scenes import Scene
from .textures import BARE, FARMLAND, FOREST, LAND_COVER, ROAD, URBAN, WATER

PNG = {"compress_level": 1}

# LoveDA mask ids: 0 no-data, 1 background, 2 building, 3 road, 4 water, 5 barren, 6 forest, 7 agricultural.
LOVEDA_OF_COVER = {URBAN: 1, ROAD: 3, WATER: 4, BARE: 5, FOREST: 6, FARMLAND: 7}
LOVEDA_BUILDING, LOVEDA_ROAD = 2, 3

# OVSS land-cover set: one class per land cover plus buildings; other objects are ignored (255).
LANDCOVER_CLASSES: tuple[str, ...] = (
    "water", "forest,tree", "farmland,cropland,agriculture", "bare land,barren", "urban area,pavement",
    "road", "building,roof,house",
)
OBJECT_CLASS_KINDS: tuple[str, ...] = (
    "airplane", "ship", "small vehicle", "large vehicle", "storage tank", "tennis court", "soccer field",
    "ground track field", "baseball diamond", "swimming pool", "roundabout", "bridge", "building",
)
# Background collects every land-cover name as a synonym (SegEarth-OV takes the max over synonyms).
OBJECT_CLASSES: tuple[str, ...] = ("background," + ",".join(LAND_COVER),) + tuple(
    ",".join(KINDS[k].synonyms) for k in OBJECT_CLASS_KINDS
)
IGNORE = 255


def _save(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **PNG)


def _paint(target: np.ndarray, scene: Scene, value_of) -> None:
    """Write ``value_of(obj)`` (None = leave) into ``target`` under each object's mask."""
    for obj in scene.objects:
        value = value_of(obj)
        if value is None:
            continue
        x0, y0, x1, y1 = obj.window
        target[y0:y1, x0:x1][obj.mask] = value


def write_dota(root: Path, items: Iterable[tuple[str, Scene]]) -> Counter[str]:
    """DOTA-v1.0 layout: ``images/{id}.png`` and ``labelTxt/{id}.txt`` with imagesource/gsd headers."""
    counts: Counter[str] = Counter()
    for image_id, scene in items:
        _save(scene.image, root / "images" / f"{image_id}.png")
        lines = ["imagesource:synthetic", f"gsd:{scene.gsd:.6f}"]
        for obj in scene.objects:
            label = KINDS[obj.kind].dota
            if label is None:
                continue
            coords = " ".join(f"{v:.1f}" for v in obj.corners.ravel())
            lines.append(f"{coords} {label} 0")
            counts[label] += 1
        path = root / "labelTxt" / f"{image_id}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
    return counts


def _instance_colours(rng: np.random.Generator, n: int) -> list[tuple[int, int, int]]:
    seen: set[tuple[int, int, int]] = {(0, 0, 0)}
    out: list[tuple[int, int, int]] = []
    while len(out) < n:
        c = tuple(int(v) for v in rng.integers(1, 256, 3))
        if c not in seen:
            seen.add(c)
            out.append(c)
    return out


def write_isaid(root: Path, split: str, items: Iterable[tuple[str, Scene]],
                rng: np.random.Generator) -> Counter[str]:
    """iSAID layout: ``{split}/images/{id}.png`` with ``{id}_instance_color_RGB.png`` (class palette) and
    ``{id}_instance_id_RGB.png`` (one RGB triplet per instance)."""
    counts: Counter[str] = Counter()
    for image_id, scene in items:
        folder = root / split / "images"
        _save(scene.image, folder / f"{image_id}.png")
        h, w = scene.cover.shape
        colour = np.zeros((h, w, 3), np.uint8)
        inst = np.zeros((h, w, 3), np.uint8)
        labelled = [o for o in scene.objects if KINDS[o.kind].isaid is not None]
        for obj, ic in zip(labelled, _instance_colours(rng, len(labelled))):
            label = KINDS[obj.kind].isaid
            x0, y0, x1, y1 = obj.window
            colour[y0:y1, x0:x1][obj.mask] = ISAID_PALETTE[label]
            inst[y0:y1, x0:x1][obj.mask] = ic
            counts[label] += 1
        _save(colour, folder / f"{image_id}_instance_color_RGB.png")
        _save(inst, folder / f"{image_id}_instance_id_RGB.png")
    return counts


def loveda_mask(scene: Scene) -> np.ndarray:
    """LoveDA ids (1..7) of a scene: land cover, buildings as 2, bridges as road."""
    lut = np.zeros(len(LAND_COVER), np.uint8)
    for cover, lid in LOVEDA_OF_COVER.items():
        lut[cover] = lid
    mask = lut[scene.cover]
    _paint(mask, scene, lambda o: {"building": LOVEDA_BUILDING, "bridge": LOVEDA_ROAD}.get(o.kind))
    return mask


def write_loveda(root: Path, items: Iterable[tuple[str, str, Scene]]) -> Counter[str]:
    """LoveDA layout: ``Train/{Urban,Rural}/images_png/{n}.png`` and ``masks_png/{n}.png`` (ids 0..7)."""
    counts: Counter[str] = Counter()
    for image_id, domain, scene in items:
        base = root / "Train" / domain
        _save(scene.image, base / "images_png" / f"{image_id}.png")
        mask = loveda_mask(scene)
        _save(mask, base / "masks_png" / f"{image_id}.png")
        for v in np.unique(mask):
            counts[str(int(v))] += 1  # images containing each LoveDA id
    return counts


def landcover_labels(scene: Scene) -> np.ndarray:
    """OVSS land-cover ids (LANDCOVER_CLASSES order); objects other than buildings are ignored."""
    labels = scene.cover.copy()
    building = len(LANDCOVER_CLASSES) - 1
    _paint(labels, scene, lambda o: building if o.kind == "building" else IGNORE)
    return labels


def object_labels(scene: Scene) -> np.ndarray:
    """OVSS object ids (OBJECT_CLASSES order): 0 background, 1.. object kinds."""
    labels = np.zeros(scene.cover.shape, np.uint8)
    _paint(labels, scene, lambda o: OBJECT_CLASS_KINDS.index(o.kind) + 1)
    return labels


def _descriptor(root: Path, descriptor: dict) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "farslip_dataset.json").write_text(json.dumps(descriptor, indent=2) + "\n")


def write_ovss(root: Path, name: str, items: Iterable[tuple[str, Scene]], kind: str, fit: int, window: int,
               stride: int) -> Counter[str]:
    """A SegEarth-OV style set: ``img_dir/val``, ``ann_dir/val``, ``classes.txt`` and the descriptor."""
    classes = LANDCOVER_CLASSES if kind == "landcover" else OBJECT_CLASSES
    to_labels = landcover_labels if kind == "landcover" else object_labels
    pixels: Counter[str] = Counter()
    for image_id, scene in items:
        _save(scene.image, root / "img_dir" / "val" / f"{image_id}.png")
        labels = to_labels(scene)
        _save(labels, root / "ann_dir" / "val" / f"{image_id}.png")
        for v, c in zip(*np.unique(labels, return_counts=True)):
            pixels["ignore" if v == IGNORE else classes[v].split(",")[0]] += int(c)
    (root / "classes.txt").write_text("\n".join(classes))  # SegEarth-OV files have no trailing newline
    _descriptor(root, {
        "suite": "ovss", "name": name, "img_dir": "img_dir/val", "ann_dir": "ann_dir/val",
        "img_suffix": ".png", "seg_map_suffix": ".png", "class_file": "classes.txt",
        "reduce_zero_label": False, "ignore_index": IGNORE, "bg_idx": None, "prob_thd": 0.0,
        "fit_size": fit, "window": window, "stride": stride,
    })
    return pixels


def write_scene_folders(root: Path, name: str, items: Iterable[tuple[str, Scene]]) -> Counter[str]:
    """Folder-per-class scene classification set: ``images/{class name}/{id}.png``."""
    counts: Counter[str] = Counter()
    for image_id, scene in items:
        _save(scene.image, root / "images" / scene.scene_class / f"{image_id}.png")
        counts[scene.scene_class] += 1
    _descriptor(root, {"suite": "zeroshot", "name": name, "layout": "folder", "image_dir": "images",
                       "templates": ["a satellite image of {c}.", "an aerial image of {c}."]})
    return counts


def write_karpathy(root: Path, name: str, split: str, items: Iterable[tuple[str, Scene, list[str]]],
                   descriptor: bool) -> int:
    """RSICD/Karpathy-style captions: ``images/{id}.png`` and ``dataset_{name}.json``; returns the count.

    With ``descriptor`` the folder also gets a ``farslip_dataset.json`` (a retrieval set for farslip-eval)."""
    images = []
    sentid = 0
    for imgid, (image_id, scene, captions) in enumerate(items):
        filename = f"{image_id}.png"
        _save(scene.image, root / "images" / filename)
        sentences = []
        for raw in captions:
            tokens = raw.rstrip(".").split()
            sentences.append({"raw": raw, "tokens": tokens, "imgid": imgid, "sentid": sentid})
            sentid += 1
        images.append({"filename": filename, "imgid": imgid, "split": split, "scene": scene.scene_class,
                       "sentids": [s["sentid"] for s in sentences], "sentences": sentences})
    json_name = f"dataset_{name}.json"
    root.mkdir(parents=True, exist_ok=True)
    (root / json_name).write_text(json.dumps({"dataset": name, "images": images}) + "\n")
    if descriptor:
        _descriptor(root, {"suite": "retrieval", "name": name, "layout": "karpathy", "json": json_name,
                           "image_dir": "images", "split": split})
    return len(images)


def write_webdataset(root: Path, prefix: str, items: Iterable[tuple[str, Scene, list[str]]],
                     per_shard: int = 500, per_image: int = 2) -> int:
    """RS5M-style webdataset tars ``{prefix}-{i:04d}.tar``: ``key.png``, ``key.txt`` (one caption) and
    ``key.json`` (scene class, GSD, all captions). Each image appears ``per_image`` times with a
    different caption. Returns the number of samples."""
    root.mkdir(parents=True, exist_ok=True)
    samples = 0
    tar: tarfile.TarFile | None = None

    def add(name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = 0  # reproducible bytes
        tar.addfile(info, io.BytesIO(data))

    try:
        for image_id, scene, captions in items:
            buf = io.BytesIO()
            Image.fromarray(scene.image).save(buf, format="PNG", **PNG)
            png = buf.getvalue()
            meta = {"scene": scene.scene_class, "gsd": scene.gsd, "captions": captions}
            for k in range(min(per_image, len(captions))):
                if samples % per_shard == 0:
                    if tar is not None:
                        tar.close()
                    tar = tarfile.open(root / f"{prefix}-{samples // per_shard:04d}.tar", "w")
                key = f"{image_id}_{k}"
                add(f"{key}.png", png)
                add(f"{key}.txt", captions[k].encode())
                add(f"{key}.json", json.dumps(meta | {"caption": captions[k]}).encode())
                samples += 1
    finally:
        if tar is not None:
            tar.close()
    return samples
