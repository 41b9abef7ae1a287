"""Training configuration: frozen dataclass trees, presets, YAML/JSON files and dotted overrides.

A config is built from a preset name (``stage1``, ``tiny-stage2``, ... in ``presets/``) or a YAML/JSON
file, then patched with ``a.b=value`` overrides whose values are parsed as YAML scalars
(``--set optim.lr=1e-4 --set data.path=/data/mgrs``). Unknown keys and bad values raise
:class:`ConfigError` naming the key and what is allowed.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml

__all__ = [
    "ConfigError",
    "CheckpointConfig",
    "DataConfig",
    "DistConfig",
    "EvalConfig",
    "LogConfig",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "ScheduleConfig",
    "TrainConfig",
    "apply_overrides",
    "config_from_dict",
    "config_to_dict",
    "list_presets",
    "load_config",
]


class ConfigError(ValueError):
    """A config key that does not exist, or a value of the wrong type or outside the allowed set."""


@dataclass(frozen=True)
class ModelConfig:
    """Which network to train.

    Attributes:
        arch: an open_clip architecture name (``ViT-B-16``, ``ViT-B-32``, ``FarSLIP-Tiny``, ...).
        pretrained: an open_clip pretrained tag (``openai``), a local weights file, a FarSLIP
            checkpoint folder (``save_checkpoint`` output), or None for random init.
        long_text: stretch the text positions to 248 (Long-CLIP, keep 20).
        dense_variant: the dense readout of the last block, ``segearth`` or ``maskclip``.
    """

    arch: str = "ViT-B-16"
    pretrained: str | None = "openai"
    long_text: bool = False
    dense_variant: Literal["segearth", "maskclip"] = "segearth"


@dataclass(frozen=True)
class DataConfig:
    """Where samples come from and how they are turned into views.

    Attributes:
        format: ``parquet`` (mgrs_builder shards), ``mgrs_json`` (released ``global_imgs/`` +
            ``text_info.json``) or ``webdataset`` (RS5M-style ``.tar`` files).
        path: the shard folder, the MGRS root (or its ``text_info.json``), or a tar folder/file.
        split: the split of a shard folder to read.
        views: ``random_crops`` (stage 1: K random crops for distillation) or ``objects``
            (stage 2: up to K annotated object crops for region-category alignment).
        caption: which global caption to train on, ``short`` or ``long``.
        image_size: side of the squashed views; None takes the model's image size.
        max_boxes: K, crops or objects per image (0: global view only).
        crop_area: area fraction range of the random crops (stage 1).
        crop_ratio: aspect-ratio range (w/h) of the random crops (stage 1).
        min_object_side / max_object_side: objects are kept when
            ``min_object_side**2 <= box area <= max_object_side**2`` (source pixels).
        region_template: the region text; ``{category}`` is replaced by the category name.
        color_augment: colour jitter (p=0.8) and grayscale (p=0.2), as in stage 2.
        batch_size: samples per rank per micro-batch.
        workers: DataLoader worker processes per rank.
        shuffle: seeded per-epoch shuffling (shard order and rows within a shard).
        max_samples: use only the first N records (in storage order), for quick runs.
    """

    format: Literal["parquet", "mgrs_json", "webdataset"] = "parquet"
    path: str | None = None
    split: str = "train"
    views: Literal["random_crops", "objects"] = "random_crops"
    caption: Literal["short", "long"] = "short"
    image_size: int | None = None
    max_boxes: int = 4
    crop_area: tuple[float, float] = (0.3, 0.7)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    min_object_side: float = 64.0
    max_object_side: float = 1024.0
    region_template: str = "a satellite image of {category}"
    color_augment: bool = False
    batch_size: int = 40
    workers: int = 0
    shuffle: bool = True
    max_samples: int | None = None


@dataclass(frozen=True)
class LossConfig:
    """Loss terms and their switches (the ablation axes of docs/interfaces.md section 2).

    Attributes:
        w_global: weight of the image-caption InfoNCE on the CLS embedding.
        w_distill: weight of the patch distillation (random_crops views only).
        distill_align: ``roi2pooled`` (patch-to-patch), ``roi2cls`` (patch-to-CLS) or ``combined``.
        w_region: weight of the region-category loss (objects views only).
        region_feature: ``crop_cls`` (CLS of the crop encoded as an image) or ``roi_pooled``
            (RoIAlign mean of the global image's dense map over the box).
        region_loss: ``multi_positive`` (same-category positives) or ``single_positive`` (InfoNCE).
        teacher: distillation teacher, ``active`` (same network, gradients on both branches),
            ``ema`` (momentum copy) or ``frozen`` (copy of the initial weights).
        ema_momentum: momentum of the ``ema`` teacher.
    """

    w_global: float = 1.0
    w_distill: float = 0.1
    distill_align: Literal["roi2pooled", "roi2cls", "combined"] = "roi2pooled"
    w_region: float = 0.0
    region_feature: Literal["crop_cls", "roi_pooled"] = "crop_cls"
    region_loss: Literal["multi_positive", "single_positive"] = "multi_positive"
    teacher: Literal["active", "ema", "frozen"] = "active"
    ema_momentum: float = 0.99


@dataclass(frozen=True)
class OptimConfig:
    """AdamW settings. ``accum_steps`` micro-batches make one optimizer step."""

    lr: float = 1e-6
    weight_decay: float = 1.0
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-6
    grad_clip: float | None = None
    accum_steps: int = 1


@dataclass(frozen=True)
class ScheduleConfig:
    """Learning-rate schedule and run length (``max_steps`` caps ``epochs``)."""

    epochs: int = 1
    max_steps: int | None = None
    warmup_steps: int = 1000
    kind: Literal["cosine", "constant"] = "cosine"


@dataclass(frozen=True)
class DistConfig:
    """Multi-process settings; the world itself comes from torchrun's environment."""

    backend: Literal["auto", "gloo", "nccl"] = "auto"
    find_unused_parameters: bool = False
    timeout_s: int = 1800


@dataclass(frozen=True)
class CheckpointConfig:
    """Step-level checkpoints and resume.

    Attributes:
        every_steps: save ``checkpoints/step_XXXXXXX`` every N optimizer steps (0: only the final one).
        keep_last: keep only the newest N step checkpoints (None: keep all).
        resume: None, ``latest`` (newest in ``output_dir/checkpoints``) or a step-checkpoint folder.
    """

    every_steps: int = 1000
    keep_last: int | None = None
    resume: str | None = None


@dataclass(frozen=True)
class LogConfig:
    """Logging: a progress line every ``every_steps`` on rank 0, TensorBoard scalars, metrics.jsonl."""

    every_steps: int = 10
    tensorboard: bool = True


@dataclass(frozen=True)
class EvalConfig:
    """Optional per-epoch zero-shot validation through ``farslip_eval.run_suite`` (skipped if unset)."""

    data_root: str | None = None
    suite: str = "zeroshot"
    datasets: tuple[str, ...] | None = None
    every_epochs: int = 1
    batch_size: int = 32


@dataclass(frozen=True)
class TrainConfig:
    """A whole training run.

    Attributes:
        name: a label for logs.
        output_dir: where metrics, TensorBoard events and checkpoints go.
        seed: model init uses ``seed``; everything else ``seed + rank``.
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
        precision: ``auto`` (bf16 AMP on GPUs that support it, else fp16 AMP; fp32 on CPU),
            ``amp_bf16``, ``amp_fp16`` or ``fp32``.
    """

    name: str = "custom"
    output_dir: str = "runs/farslip"
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "amp_bf16", "amp_fp16", "fp32"] = "auto"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    dist: DistConfig = field(default_factory=DistConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    log: LogConfig = field(default_factory=LogConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def validate(self) -> None:
        """Check cross-field rules that types alone cannot express.

        Raises:
            ConfigError: naming the field and what is allowed.
        """
        positive = {
            "data.batch_size": self.data.batch_size,
            "optim.accum_steps": self.optim.accum_steps,
            "schedule.epochs": self.schedule.epochs,
        }
        for key, value in positive.items():
            if value < 1:
                raise ConfigError(f"{key} must be >= 1, got {value}")
        if self.data.max_boxes < 0:
            raise ConfigError(f"data.max_boxes must be >= 0, got {self.data.max_boxes}")
        if self.data.max_boxes == 0 and (self.loss.w_distill > 0 or self.loss.w_region > 0):
            raise ConfigError("data.max_boxes=0 leaves no crops for loss.w_distill / loss.w_region")
        if self.data.workers < 0:
            raise ConfigError(f"data.workers must be >= 0, got {self.data.workers}")
        if self.schedule.max_steps is not None and self.schedule.max_steps < 1:
            raise ConfigError(f"schedule.max_steps must be >= 1 or null, got {self.schedule.max_steps}")
        lo, hi = self.data.crop_area
        if not 0 < lo <= hi <= 1:
            raise ConfigError(f"data.crop_area must satisfy 0 < lo <= hi <= 1, got {self.data.crop_area}")
        lo, hi = self.data.crop_ratio
        if not 0 < lo <= hi:
            raise ConfigError(f"data.crop_ratio must satisfy 0 < lo <= hi, got {self.data.crop_ratio}")
        if not 0 <= self.data.min_object_side <= self.data.max_object_side:
            raise ConfigError("data.min_object_side must be >= 0 and <= data.max_object_side")
        if "{category}" not in self.data.region_template:
            raise ConfigError(
                f"data.region_template must contain '{{category}}', got {self.data.region_template!r}"
            )
        if not 0 <= self.loss.ema_momentum < 1:
            raise ConfigError(f"loss.ema_momentum must be in [0, 1), got {self.loss.ema_momentum}")
        if self.loss.w_distill > 0 and self.data.views != "random_crops":
            raise ConfigError("loss.w_distill > 0 needs data.views=random_crops (the distillation crops)")
        if self.loss.w_region > 0 and self.data.views != "objects":
            raise ConfigError("loss.w_region > 0 needs data.views=objects (the annotated object crops)")
        if self.data.views == "objects" and self.data.format == "webdataset":
            raise ConfigError("data.format=webdataset has no object boxes; use data.views=random_crops")
        if self.loss.w_global == self.loss.w_distill == self.loss.w_region == 0:
            raise ConfigError("all loss weights are 0 (loss.w_global, loss.w_distill, loss.w_region)")
        if self.checkpoint.every_steps < 0:
            raise ConfigError(f"checkpoint.every_steps must be >= 0, got {self.checkpoint.every_steps}")
        if self.eval.every_epochs < 1:
            raise ConfigError(f"eval.every_epochs must be >= 1, got {self.eval.every_epochs}")
        if self.log.every_steps < 1:
            raise ConfigError(f"log.every_steps must be >= 1, got {self.log.every_steps}")


# ---------------------------------------------------------------------------------------------
# dict <-> dataclass


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp`` and convert lists to tuples, ints to floats."""
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{key}: {value!r} does not match {tp}")
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{key}: {value!r} is not one of {list(allowed)}")
        return value
    if origin is tuple:
        args = get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{key}: expected {len(args)} values, got {len(value)} ({value!r})")
        return tuple(_coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if _is_dataclass_type(tp):
        if not isinstance(value, dict):
            names = sorted(f.name for f in dataclasses.fields(tp))
            raise ConfigError(f"{key}: expected a mapping of {names}")
        return _build(tp, value, key)
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported annotation {tp}")  # pragma: no cover - internal


def _build(cls: type, data: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        full = f"{prefix}.{key}" if prefix else key
        if key not in names:
            raise ConfigError(f"unknown config key {full!r}; valid keys here: {', '.join(names)}")
        kwargs[key] = _coerce(value, hints[key], full)
    return cls(**kwargs)


def config_from_dict(data: dict[str, Any]) -> TrainConfig:
    """Build and validate a :class:`TrainConfig` from a nested mapping (missing keys keep defaults)."""
    config = _build(TrainConfig, data, "")
    config.validate()
    return config


def config_to_dict(config: Any) -> dict[str, Any]:
    """A nested plain mapping (tuples as lists), suitable for YAML/JSON."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            value = config_to_dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node: Any = tree
    cls: Any = TrainConfig
    for depth, part in enumerate(parts):
        names = [f.name for f in dataclasses.fields(cls)]
        here = ".".join(parts[:depth]) or "the top level"
        if part not in names:
            raise ConfigError(
                f"unknown config key {dotted!r}: {part!r} is not in {here} (valid: {', '.join(names)})"
            )
        if depth == len(parts) - 1:
            node[part] = value
            return
        child = typing.get_type_hints(cls)[part]
        if not _is_dataclass_type(child):
            section = ".".join(parts[: depth + 1])
            raise ConfigError(f"unknown config key {dotted!r}: {section} is not a section")
        node = node.setdefault(part, {})
        cls = child


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b=value`` strings to a nested mapping; values are parsed as YAML scalars/lists."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key.path=value")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as err:
            raise ConfigError(f"override {item!r}: cannot parse the value ({err})") from err
        _set_dotted(data, key.strip(), value)
    return data


# ---------------------------------------------------------------------------------------------
# presets and files

_PRESET_PACKAGE = "farslip_model.presets"


def list_presets() -> list[str]:
    """Names of the bundled presets."""
    root = resources.files(_PRESET_PACKAGE)
    return sorted(p.name[: -len(".yaml")] for p in root.iterdir() if p.name.endswith(".yaml"))


def _read_mapping(source: str) -> tuple[dict[str, Any], str]:
    """Read a preset name or a YAML/JSON file into a mapping; returns it and a label for errors."""
    path = Path(source)
    if path.suffix.lower() in {".yaml", ".yml", ".json"} or path.exists():
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        text = path.read_text(encoding="utf-8")
        label = str(path)
        try:
            data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as err:
            kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
            raise ConfigError(f"{path}: not valid {kind} ({err})") from err
    else:
        names = list_presets()
        if source not in names:
            raise ConfigError(
                f"unknown preset {source!r}; presets: {', '.join(names)} (or pass a .yaml/.json file)"
            )
        text = resources.files(_PRESET_PACKAGE).joinpath(f"{source}.yaml").read_text(encoding="utf-8")
        label = f"preset {source}"
        data = yaml.safe_load(text)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{label}: the top level must be a mapping, got {type(data).__name__}")
    return data, label


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _resolve(source: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    if source in seen:
        raise ConfigError(f"config inheritance loop: {' -> '.join(seen + (source,))}")
    data, _ = _read_mapping(source)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ConfigError(f"{source}: 'extends' must be a preset name or file, got {parent!r}")
    if not Path(parent).is_absolute() and Path(source).is_file() and (Path(source).parent / parent).is_file():
        parent = str(Path(source).parent / parent)
    return _merge(_resolve(parent, seen + (source,)), data)


def load_config(source: str | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """Load a preset name or YAML/JSON file (``extends: NAME`` inherits), then apply overrides.

    Args:
        source: a preset name (see :func:`list_presets`), a file path, or None for the defaults.
        overrides: ``a.b=value`` strings.

    Returns:
        The validated config.

    Raises:
        ConfigError: unknown preset, file, key or a bad value.
    """
    data = _resolve(source) if source is not None else {}
    data = apply_overrides(data, list(overrides or []))
    return config_from_dict(data)


def save_config(config: TrainConfig, path: Path) -> None:
    """Write the resolved config as YAML (or JSON for a ``.json`` path)."""
    tree = config_to_dict(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        path.write_text(json.dumps(tree, indent=2) + "\n", encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(tree, sort_keys=False), encoding="utf-8")
