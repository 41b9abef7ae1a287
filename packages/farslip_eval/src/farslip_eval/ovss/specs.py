"""OVSS dataset specifications: where each dataset lives and every protocol setting.

Built-in datasets follow the folder layouts that the SegEarth-OV / mmseg preparation scripts
produce, under one data root (``DATA_ROOT/<folder>/<img_dir>`` and ``.../<ann_dir>``):

=============  ============  ==================  ========================  ==========  ===========  ======  =====
name           folder        img_dir / ann_dir   suffixes (img, label)     reduce 0    ignore       thd     bg
=============  ============  ==================  ========================  ==========  ===========  ======  =====
openearthmap   OpenEarthMap  img_dir/val,        .tif, .tif                no          255          0.1     0
                             ann_dir/val
loveda         LoveDA        img_dir/val, ...    .png, .png                yes         255          0.3     0
potsdam        potsdam       img_dir/val, ...    .png, .png                yes         255          0.1     5
vaihingen      vaihingen     img_dir/val, ...    .png, .png                yes         255          0.1     5
udd5           UDD5          val/src, val/gt     .JPG, .png                no          255          0.4     4
vdd            VDD           test/src, test/gt   .JPG, .png                no          255          0.3     0
uavid          UAVid         img_dir/test, ...   .png, .png                no          255          0.3     0
isaid          iSAID         img_dir/val, ...    .png,                     no          255          0.4     0
                                                 _instance_color_RGB.png
=============  ============  ==================  ========================  ==========  ===========  ======  =====

All use fit 448 (long side), 224 windows with stride 112, logit scale 50 and no CLS global-bias
subtraction (``cls_token_lambda=0``), as FarSLIP's RS-OVSS does. Labels are single-channel class
indices (iSAID also accepts its RGB colour masks, decoded with :data:`ISAID_PALETTE`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from farslip_eval.templates import parse_class_names, read_class_file

__all__ = [
    "BUILTIN_SPECS",
    "ISAID_PALETTE",
    "BgThreshold",
    "OvssSpec",
    "SpecError",
    "get_spec",
    "list_specs",
]

BgThreshold = Literal["spec", "off"]

#: iSAID colour-mask palette (RGB), class ids 0..15 in the order of ``cls_iSAID.txt``.
ISAID_PALETTE: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0), (0, 0, 63), (0, 63, 63), (0, 63, 0), (0, 63, 127), (0, 63, 191), (0, 63, 255),
    (0, 127, 63), (0, 127, 127), (0, 0, 127), (0, 0, 191), (0, 0, 255), (0, 191, 127),
    (0, 127, 191), (0, 127, 255), (0, 100, 155),
)


class SpecError(ValueError):
    """An invalid OVSS dataset specification or descriptor."""


@dataclass(frozen=True)
class OvssSpec:
    """One OVSS dataset and its full evaluation protocol.

    ``class_file`` is the name of a class file shipped with this package (``cls_*.txt``) or a path;
    relative paths resolve against ``base_dir`` (custom datasets) . ``folder`` is the dataset's
    folder under a data root; ``base_dir``, when set, is the dataset folder itself.
    """

    name: str
    folder: str
    img_dir: str
    ann_dir: str
    img_suffix: str
    seg_map_suffix: str
    class_file: str
    reduce_zero_label: bool = False
    ignore_index: int = 255
    bg_idx: int | None = 0
    prob_thd: float = 0.0
    fit_size: int = 448
    window: int = 224
    stride: int = 112
    logit_scale: float = 50.0
    cls_token_lambda: float = 0.0
    palette: tuple[tuple[int, int, int], ...] | None = None
    split: str = "val"
    notes: str = ""
    base_dir: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.window <= 0 or self.stride <= 0 or self.fit_size <= 0:
            raise SpecError(f"{self.name}: fit_size, window and stride must be positive")
        if not 0.0 <= self.prob_thd <= 1.0:
            raise SpecError(f"{self.name}: prob_thd must be in [0, 1], got {self.prob_thd}")

    # -- locations -------------------------------------------------------------------------------
    def dataset_dir(self, data_root: str | Path | None = None) -> Path:
        """The dataset folder: ``base_dir`` if set, else ``data_root / folder``."""
        if self.base_dir is not None:
            return Path(self.base_dir)
        if data_root is None:
            raise SpecError(f"{self.name}: a data root is needed to locate {self.folder}/")
        return Path(data_root) / self.folder

    def image_dir(self, data_root: str | Path | None = None) -> Path:
        return self.dataset_dir(data_root) / self.img_dir

    def label_dir(self, data_root: str | Path | None = None) -> Path:
        return self.dataset_dir(data_root) / self.ann_dir

    def is_present(self, data_root: str | Path | None = None) -> bool:
        """Whether the image and label folders exist (used to list missing datasets)."""
        return self.image_dir(data_root).is_dir() and self.label_dir(data_root).is_dir()

    def expected_layout(self) -> str:
        """One line describing where the files must be."""
        return (
            f"{self.folder}/{self.img_dir}/*{self.img_suffix} with labels "
            f"{self.folder}/{self.ann_dir}/*{self.seg_map_suffix}"
        )

    # -- classes ---------------------------------------------------------------------------------
    def class_names(self) -> list[tuple[str, ...]]:
        """Class-id-ordered synonyms tuples from the class file."""
        path = Path(self.class_file)
        if self.base_dir is not None and not path.is_absolute():
            return read_class_file(Path(self.base_dir) / path)
        if path.is_absolute() or path.parent != Path("."):
            return read_class_file(path)
        resource = resources.files("farslip_eval.ovss").joinpath("classes", self.class_file)
        if not resource.is_file():
            raise SpecError(f"{self.name}: class file {self.class_file!r} is not shipped with farslip_eval")
        return parse_class_names(resource.read_text(encoding="utf-8"), source=f"farslip_eval:{self.class_file}")

    @property
    def num_classes(self) -> int:
        return len(self.class_names())

    # -- protocol --------------------------------------------------------------------------------
    def threshold(self, bg_threshold: BgThreshold) -> tuple[float, int | None]:
        """(prob_thd, bg_idx) actually applied for ``--bg-threshold spec|off``."""
        if bg_threshold == "off":
            return 0.0, None
        if bg_threshold == "spec":
            return self.prob_thd, self.bg_idx
        raise SpecError(f"bg_threshold must be 'spec' or 'off', got {bg_threshold!r}")

    def protocol(self, bg_threshold: BgThreshold = "spec") -> dict[str, Any]:
        """Every setting that determines the numbers, for the result JSON."""
        thd, bg = self.threshold(bg_threshold)
        d = dataclasses.asdict(self)
        d.pop("base_dir")
        d.pop("palette")
        d.update(
            {
                "bg_threshold": bg_threshold,
                "prob_thd_applied": thd,
                "bg_idx_applied": bg,
                "resize": f"keep ratio, long side to {self.fit_size}",
                "text": "80 OpenAI ImageNet templates, mean of normalised embeddings, renormalised",
                "decision": "softmax over all names, max over synonyms, argmax",
                "label_palette": "iSAID RGB" if self.palette else None,
                "matches_published": bg_threshold == "off",
            }
        )
        return d

    @classmethod
    def from_descriptor(cls, descriptor: dict[str, Any], base_dir: str | Path | None = None) -> OvssSpec:
        """Build a spec from a ``farslip_dataset.json`` (docs/interfaces.md section 3.3)."""
        where = f"{base_dir}/farslip_dataset.json" if base_dir is not None else "descriptor"
        d = dict(descriptor)
        suite = d.pop("suite", "ovss")
        if suite != "ovss":
            raise SpecError(f"{where}: suite is {suite!r}, expected 'ovss'")
        required = ("name", "img_dir", "ann_dir", "class_file")
        missing = [k for k in required if k not in d]
        if missing:
            raise SpecError(f"{where}: missing keys {missing} (needed: {list(required)})")
        allowed = {f.name for f in dataclasses.fields(cls)} - {"base_dir", "folder", "palette"}
        unknown = sorted(set(d) - allowed)
        if unknown:
            raise SpecError(f"{where}: unknown keys {unknown}; allowed: {sorted(allowed)}")
        d.setdefault("img_suffix", ".png")
        d.setdefault("seg_map_suffix", ".png")
        if d.get("bg_idx") is None:
            d["bg_idx"] = None
        folder = Path(base_dir).name if base_dir is not None else str(d["name"])
        try:
            return cls(folder=folder, base_dir=Path(base_dir) if base_dir is not None else None, **d)
        except TypeError as exc:
            raise SpecError(f"{where}: {exc}") from exc


def _builtin(name: str, folder: str, img: str, ann: str, img_sfx: str, ann_sfx: str, cls_file: str,
             reduce: bool, thd: float, bg: int, split: str, notes: str, **kw: Any) -> OvssSpec:
    return OvssSpec(name=name, folder=folder, img_dir=img, ann_dir=ann, img_suffix=img_sfx,
                    seg_map_suffix=ann_sfx, class_file=cls_file, reduce_zero_label=reduce,
                    prob_thd=thd, bg_idx=bg, split=split, notes=notes, **kw)


BUILTIN_SPECS: dict[str, OvssSpec] = {
    s.name: s
    for s in (
        _builtin("openearthmap", "OpenEarthMap", "img_dir/val", "ann_dir/val", ".tif", ".tif",
                 "cls_openearthmap.txt", False, 0.1, 0, "val",
                 "OpenEarthMap val without xBD tiles; label 0 is scored as 'background'"),
        _builtin("loveda", "LoveDA", "img_dir/val", "ann_dir/val", ".png", ".png", "cls_loveda.txt",
                 True, 0.3, 0, "val", "raw 0 = no-data (ignored), 1..7 = classes"),
        _builtin("potsdam", "potsdam", "img_dir/val", "ann_dir/val", ".png", ".png", "cls_potsdam.txt",
                 True, 0.1, 5, "val", "mmseg converter: 512 crops, stride 256; 0 = eroded boundary"),
        _builtin("vaihingen", "vaihingen", "img_dir/val", "ann_dir/val", ".png", ".png",
                 "cls_vaihingen.txt", True, 0.1, 5, "val", "IRRG tiles, 512 crops, stride 256"),
        _builtin("udd5", "UDD5", "val/src", "val/gt", ".JPG", ".png", "cls_udd5.txt", False, 0.4, 4,
                 "val", "class 4 is the dataset's 'other'"),
        _builtin("vdd", "VDD", "test/src", "test/gt", ".JPG", ".png", "cls_vdd.txt", False, 0.3, 0,
                 "test", "dataset names: other, wall, road, vegetation, vehicle, roof, water"),
        _builtin("uavid", "UAVid", "img_dir/test", "ann_dir/test", ".png", ".png", "cls_uavid.txt",
                 False, 0.3, 0, "test", "1280x1080 patches; moving car merged into car"),
        _builtin("isaid", "iSAID", "img_dir/val", "ann_dir/val", ".png", "_instance_color_RGB.png",
                 "cls_iSAID.txt", False, 0.4, 0, "val",
                 "896 patches, overlap 384; index or RGB colour labels", palette=ISAID_PALETTE),
    )
}


def list_specs() -> list[OvssSpec]:
    """The eight built-in OVSS datasets in the paper's order."""
    return list(BUILTIN_SPECS.values())


def get_spec(name: str) -> OvssSpec:
    """A built-in spec by (case-insensitive) name."""
    spec = BUILTIN_SPECS.get(name.lower())
    if spec is None:
        raise KeyError(f"unknown OVSS dataset {name!r}; known: {', '.join(BUILTIN_SPECS)}")
    return spec
