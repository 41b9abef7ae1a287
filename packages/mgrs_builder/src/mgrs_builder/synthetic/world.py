"""Generate a whole synthetic world: training sources, evaluation sets and world.json."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..errors import MgrsBuilderError
from . import writers
from .captions import describe
from .objects import KINDS
from .scenes import SCENES, Scene, compose
from .textures import LAND_COVER

log = logging.getLogger(__name__)

GENERATOR_VERSION = "1"


@dataclass(frozen=True)
class WorldPreset:
    """Sizes of one world. Source scenes are ``source_size`` px; evaluation and caption scenes ``eval_size``.

    Counts are images, except ``scenes_per_class`` (the scene classification set is balanced).
    """

    source_size: int
    eval_size: int
    dota: int
    isaid: int
    loveda: int
    captions: int  # training scenes with captions (stand-in for a web-scale caption corpus)
    ovss: int  # images per OVSS set
    scenes_per_class: int
    retrieval: int
    gsd_range: tuple[float, float] = (0.6, 1.2)
    ovss_window: tuple[int, int, int] = (128, 64, 32)  # fit size, window, stride (FarSLIP-Tiny is 64 px)


PRESETS: dict[str, WorldPreset] = {
    "tiny": WorldPreset(128, 128, dota=4, isaid=3, loveda=4, captions=20, ovss=3, scenes_per_class=2,
                        retrieval=10),
    "default": WorldPreset(256, 128, dota=120, isaid=60, loveda=60, captions=1000, ovss=30,
                           scenes_per_class=20, retrieval=100),
    "large": WorldPreset(256, 128, dota=400, isaid=200, loveda=200, captions=4000, ovss=60,
                         scenes_per_class=40, retrieval=300),
}

# Disjoint random streams: a scene is drawn from np.random.default_rng([seed, stream, index]).
TRAIN_STREAMS = {"dota": 1, "isaid": 2, "loveda": 3, "captions": 4, "isaid_instances": 5}
EVAL_STREAMS = {"synth_landcover": 101, "synth_objects": 102, "synth_scenes": 103, "synth_captions": 104}

OBJECT_SCENES = (
    "airport", "harbor", "river", "residential area", "industrial area", "sports ground", "parking lot",
)
URBAN_SCENES = ("airport", "harbor", "residential area", "industrial area", "sports ground", "parking lot")
RURAL_SCENES = ("farmland", "forest", "river", "desert")
ALL_SCENES = tuple(SCENES)


@dataclass
class WorldInfo:
    """What ``generate_world`` wrote (also saved as ``world.json``)."""

    root: Path
    preset: str
    seed: int
    sources: dict[str, Path]
    eval_root: Path
    captions_root: Path
    counts: dict[str, dict] = field(default_factory=dict)

    def to_json(self) -> dict:
        """JSON form; paths are relative to the world folder so that it can be moved."""
        d = asdict(self)
        rel = lambda p: Path(p).relative_to(self.root).as_posix()  # noqa: E731
        d["root"] = "."
        d["sources"] = {k: rel(v) for k, v in self.sources.items()}
        d["eval_root"] = rel(self.eval_root)
        d["captions_root"] = rel(self.captions_root)
        return d


def _scenes(seed: int, stream: int, count: int, size: int, classes: tuple[str, ...], gsd: tuple[float, float],
            bar: tqdm, balanced: bool = False) -> Iterator[tuple[int, np.random.Generator, Scene]]:
    """Scenes ``0..count-1`` of one random stream; classes drawn at random, or in turn when ``balanced``."""
    for i in range(count):
        rng = np.random.default_rng([seed, stream, i])
        scene_class = classes[i % len(classes)] if balanced else classes[int(rng.integers(0, len(classes)))]
        yield i, rng, compose(rng, scene_class, size, gsd)
        bar.update(1)


def generate_world(out_dir: Path, preset: str = "default", seed: int = 0, progress: bool = True) -> WorldInfo:
    """Write a synthetic world to ``out_dir`` (see docs/interfaces.md section 1.5) and return its summary.

    Raises:
        MgrsBuilderError: unknown preset, or ``out_dir`` exists and is not empty.
    """
    if preset not in PRESETS:
        raise MgrsBuilderError(f"unknown world preset {preset!r}; expected one of {sorted(PRESETS)}")
    p = PRESETS[preset]
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise MgrsBuilderError(f"{out_dir}: output folder is not empty; pass a new or empty folder")
    src, ev = out_dir / "sources", out_dir / "eval"
    sources = {name: src / name for name in ("dota", "isaid", "loveda")}
    info = WorldInfo(out_dir, preset, seed, sources, ev, out_dir / "captions")
    n_scenes = p.scenes_per_class * len(ALL_SCENES)
    total = p.dota + p.isaid + p.loveda + p.captions + 2 * p.ovss + n_scenes + p.retrieval
    fit, win, stride = p.ovss_window
    c = info.counts
    with tqdm(total=total, desc=f"world {preset}", unit="scene", disable=None if progress else True) as bar:

        def train(name: str, count: int, size: int, classes: tuple[str, ...]):
            return _scenes(seed, TRAIN_STREAMS[name], count, size, classes, p.gsd_range, bar)

        def held_out(name: str, count: int, classes: tuple[str, ...], balanced: bool = False):
            return _scenes(seed, EVAL_STREAMS[name], count, p.eval_size, classes, p.gsd_range, bar, balanced)

        dota = ((f"P{i:04d}", s) for i, _, s in train("dota", p.dota, p.source_size, OBJECT_SCENES))
        c["dota"] = {"images": p.dota, "by_label": dict(writers.write_dota(sources["dota"], dota))}

        isaid = ((f"P{i:04d}", s) for i, _, s in train("isaid", p.isaid, p.source_size, OBJECT_SCENES))
        inst_rng = np.random.default_rng([seed, TRAIN_STREAMS["isaid_instances"]])
        isaid_counts = writers.write_isaid(sources["isaid"], "train", isaid, inst_rng)
        c["isaid"] = {"images": p.isaid, "by_label": dict(isaid_counts)}

        loveda = ((str(i), "Urban" if s.scene_class in URBAN_SCENES else "Rural", s)
                  for i, _, s in train("loveda", p.loveda, p.source_size, ALL_SCENES))
        loveda_counts = writers.write_loveda(sources["loveda"], loveda)
        c["loveda"] = {"images": p.loveda, "images_with_id": dict(loveda_counts)}

        corpus = ((f"T{i:05d}", s, describe(s, rng))
                  for i, rng, s in train("captions", p.captions, p.eval_size, ALL_SCENES))
        c["captions"] = {"images": p.captions,
                         "samples": writers.write_webdataset(info.captions_root, "synth-train", corpus)}

        for name, prefix, kind, classes in (("synth_landcover", "L", "landcover", ALL_SCENES),
                                            ("synth_objects", "O", "objects", OBJECT_SCENES)):
            items = ((f"{prefix}{i:04d}", s) for i, _, s in held_out(name, p.ovss, classes))
            c[name] = {"images": p.ovss,
                       "pixels": dict(writers.write_ovss(ev / name, name, items, kind, fit, win, stride))}

        scenes = ((f"S{i:04d}", s) for i, _, s in held_out("synth_scenes", n_scenes, ALL_SCENES, True))
        by_class = writers.write_scene_folders(ev / "synth_scenes", "synth_scenes", scenes)
        c["synth_scenes"] = {"by_class": dict(by_class)}

        captioned = ((f"R{i:04d}", s, describe(s, rng))
                     for i, rng, s in held_out("synth_captions", p.retrieval, ALL_SCENES))
        n_ret = writers.write_karpathy(ev / "synth_captions", "synth_captions", "test", captioned,
                                       descriptor=True)
        c["synth_captions"] = {"images": n_ret}
    meta = info.to_json() | {
        "generator_version": GENERATOR_VERSION,
        "preset_sizes": asdict(p),
        "scene_classes": list(ALL_SCENES),
        "land_cover": list(LAND_COVER),
        "categories": [{"name": k.name, "dota": k.dota, "isaid": k.isaid} for k in KINDS.values()],
        "streams": {"train": TRAIN_STREAMS, "eval": EVAL_STREAMS},
    }
    (out_dir / "world.json").write_text(json.dumps(meta, indent=2) + "\n")
    log.info("wrote a %s world (seed %d) to %s", preset, seed, out_dir)
    return info
