"""Checkpoints: save as safetensors + JSON, load ours, plain open_clip and released FarSLIP state dicts.

``model.safetensors`` holds the plain open_clip ``CLIP`` state dict, so a non-long-text checkpoint
loads with ``open_clip.create_model_and_transforms(arch, pretrained=".../model.safetensors")``.
Pickled files are only ever read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import logging
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from farslip_model import __version__
from farslip_model.long_clip import enable_long_text, is_long_text, stretch_positional_embedding

logger = logging.getLogger(__name__)

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
OPEN_CLIP_CONFIG_NAME = "open_clip_config.json"
CHECKPOINT_FORMAT = "farslip_model.checkpoint/1"
PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
_DERIVED_BUFFERS = ("mask1", "mask2")  # rebuilt by enable_long_text; never needed from a file
_STRIP_PREFIXES = ("module.", "clip.")


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the model."""


@dataclass
class LoadReport:
    """What ``load_state_dict_flexible`` did: keys the model lacked / the file had extra, plus notes."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unexpected

    def summary(self) -> str:
        parts = [f"{len(self.missing)} missing", f"{len(self.unexpected)} unexpected"]
        if self.missing:
            parts.append("missing: " + ", ".join(self.missing[:8]) + (" ..." if len(self.missing) > 8 else ""))
        if self.unexpected:
            parts.append(
                "unexpected: " + ", ".join(self.unexpected[:8]) + (" ..." if len(self.unexpected) > 8 else "")
            )
        parts.extend(self.notes)
        return "; ".join(parts)


# ------------------------------------------------------------------------------------------- reading
def load_state_dict_file(path: str | Path) -> dict[str, Tensor]:
    """Read a state dict: .safetensors via safetensors, .pt/.pth/.bin/.ckpt via weights_only torch.load.

    Training checkpoints (``{"state_dict": ...}``) are unwrapped; see :func:`unwrap_state_dict`.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    if path.suffix == ".safetensors":
        try:
            obj: Any = load_file(str(path), device="cpu")
        except Exception as exc:  # safetensors raises its own error types
            raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from exc
    elif path.suffix in PICKLE_SUFFIXES:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            raise CheckpointError(
                f"{path}: refused to load: the file needs unrestricted pickle, and only tensors and plain "
                f"containers are accepted (torch.load weights_only=True). Convert it to safetensors. ({exc})"
            ) from exc
        except RuntimeError as exc:
            raise CheckpointError(f"{path}: not a readable torch checkpoint ({exc})") from exc
    else:
        raise CheckpointError(
            f"{path}: unknown checkpoint suffix {path.suffix!r}; expected .safetensors or one of {PICKLE_SUFFIXES}"
        )
    return unwrap_state_dict(obj, source=str(path))


def unwrap_state_dict(obj: Any, source: str = "state dict") -> dict[str, Tensor]:
    """Bare dict, ``{"state_dict": ...}`` (FarSLIP/open_clip training checkpoints) or ``{"model": ...}``;
    strips a leading ``module.`` (DDP) or ``clip.`` (a FarSLIPModel.state_dict())."""
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj:
        raise CheckpointError(f"{source}: expected a non-empty mapping of parameter names to tensors")
    bad = [k for k, v in obj.items() if not isinstance(v, Tensor)]
    if bad:
        raise CheckpointError(f"{source}: entries that are not tensors: {bad[:5]}")
    state = dict(obj)
    for prefix in _STRIP_PREFIXES:
        if all(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items()}
    return state


# ------------------------------------------------------------------------------------------- loading
def _clip_of(model: nn.Module) -> nn.Module:
    return getattr(model, "clip", model)


def load_state_dict_flexible(model: nn.Module, state_dict: dict[str, Tensor]) -> LoadReport:
    """Load an open_clip-style state dict into a FarSLIPModel (or a bare open_clip CLIP).

    Handles bare / wrapped / ``module.``-prefixed dicts; the released FarSLIP1 (77 text positions) and
    FarSLIP2 (Long-CLIP: 248 positions plus ``positional_embedding_res``, ``mask1``, ``mask2``) layouts,
    switching the model to Long-CLIP when the file has 248 positions and stretching a 77-position
    table when the model is already long. Shape mismatches raise :class:`CheckpointError` naming the
    key and both shapes; other differences are reported as missing / unexpected keys.
    """
    clip = _clip_of(model)
    state = unwrap_state_dict(state_dict)
    report = LoadReport()
    pe = state.get("positional_embedding")
    if pe is not None and pe.ndim == 2:
        model_len = clip.positional_embedding.shape[0]
        if pe.shape[0] > model_len and not is_long_text(clip):
            enable_long_text(clip)
            report.notes.append(f"text positions {pe.shape[0]}: switched the model to Long-CLIP")
        if pe.shape[0] > model_len and "positional_embedding_res" not in state:
            state["positional_embedding_res"] = pe.clone()
            report.notes.append("no positional_embedding_res in the file: initialised from positional_embedding")
        elif pe.shape[0] < clip.positional_embedding.shape[0] and is_long_text(clip):
            stretched = stretch_positional_embedding(pe)
            state["positional_embedding"] = stretched
            state.setdefault("positional_embedding_res", stretched.clone())
            report.notes.append(f"stretched {pe.shape[0]} text positions to {stretched.shape[0]} (load_from_clip)")
    if "logit_scale" in state and state["logit_scale"].ndim != clip.logit_scale.ndim:
        state["logit_scale"] = state["logit_scale"].reshape(clip.logit_scale.shape)
    visual_pe = state.get("visual.positional_embedding")
    if visual_pe is not None and visual_pe.shape != clip.visual.positional_embedding.shape:
        from open_clip.model import resize_pos_embed

        before = tuple(visual_pe.shape)
        resize_pos_embed(state, clip)
        if state["visual.positional_embedding"].shape == clip.visual.positional_embedding.shape:
            report.notes.append(f"resized visual.positional_embedding {before} -> {tuple(clip.visual.positional_embedding.shape)}")
    own = clip.state_dict()
    mismatched = [
        f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
        for k, v in state.items()
        if k in own and own[k].shape != v.shape
    ]
    if mismatched:
        raise CheckpointError(
            f"{len(mismatched)} tensor(s) have the wrong shape for this architecture: " + "; ".join(mismatched[:10])
        )
    result = clip.load_state_dict(state, strict=False)
    report.missing = [k for k in result.missing_keys if k not in _DERIVED_BUFFERS]
    report.unexpected = list(result.unexpected_keys)
    return report


def _infer_arch(state: dict[str, Tensor]) -> str:
    """Pick the registered open_clip ViT architecture whose config matches the tensor shapes."""
    from farslip_model.model import list_models

    import open_clip

    try:
        conv = state["visual.conv1.weight"]
        vpos = state["visual.positional_embedding"]
        width, patch = int(conv.shape[0]), int(conv.shape[-1])
        grid = int(round((vpos.shape[0] - 1) ** 0.5))
        vlayers = len({k.split(".")[3] for k in state if k.startswith("visual.transformer.resblocks.")})
        tlayers = len({k.split(".")[2] for k in state if k.startswith("transformer.resblocks.")})
        twidth = int(state["token_embedding.weight"].shape[1])
        vocab = int(state["token_embedding.weight"].shape[0])
        embed = int(state["text_projection"].shape[1])
    except KeyError as exc:
        raise CheckpointError(f"cannot infer the architecture: the state dict has no {exc.args[0]!r}; pass arch=") from exc
    found = []
    for name in list_models():
        cfg = open_clip.get_model_config(name) or {}
        v, t = cfg.get("vision_cfg", {}), cfg.get("text_cfg", {})
        if isinstance(v.get("layers"), (list, tuple)) or "timm_model_name" in v or "hf_model_name" in t:
            continue
        if (
            cfg.get("embed_dim") == embed
            and v.get("width", 768) == width
            and v.get("patch_size", 16) == patch
            and v.get("layers", 12) == vlayers
            and v.get("image_size", 224) == grid * patch
            and t.get("width", 512) == twidth
            and t.get("layers", 12) == tlayers
            and t.get("vocab_size", 49408) == vocab
        ):
            found.append(name)
    if not found:
        raise CheckpointError(
            f"no registered open_clip architecture matches this state dict (vision width {width}, patch "
            f"{patch}, {vlayers} layers, image {grid * patch}; text width {twidth}, {tlayers} layers; "
            f"embed {embed}); pass arch="
        )
    return min(found, key=lambda n: (len(n), n))


def load_checkpoint(
    path: str | Path, *, arch: str | None = None, device: str | torch.device = "cpu", strict: bool = True
) -> Any:
    """Build a FarSLIPModel from one of our checkpoint folders or a state-dict file.

    A folder needs ``config.json`` and ``model.safetensors`` (written by :func:`save_checkpoint`). For
    a bare file the architecture is ``arch`` or inferred from the tensor shapes. With ``strict`` (the
    default for our folders) any missing or unexpected key is an error.
    """
    from farslip_model.model import create_model

    path = Path(path)
    if path.is_dir():
        cfg_path, weights = path / CONFIG_NAME, path / WEIGHTS_NAME
        for needed in (cfg_path, weights):
            if not needed.is_file():
                raise CheckpointError(f"{path}: not a farslip_model checkpoint folder (missing {needed.name})")
        try:
            cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"{cfg_path}: invalid JSON ({exc})") from exc
        if cfg.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{cfg_path}: format {cfg.get('format')!r}, expected {CHECKPOINT_FORMAT!r}")
        model = create_model(
            arch or cfg["arch"],
            None,
            long_text=bool(cfg.get("long_text", False)),
            dense_variant=cfg.get("dense_variant", "segearth"),
            quick_gelu=cfg.get("quick_gelu"),
        )
        state = load_state_dict_file(weights)
        source = weights
    else:
        state = load_state_dict_file(path)
        model = create_model(arch or _infer_arch(state), None)
        source = path
        strict = False
    report = load_state_dict_flexible(model, state)
    if strict and not report.ok:
        raise CheckpointError(f"{source}: does not match {model.arch}: {report.summary()}")
    if not report.ok:
        logger.warning("%s -> %s: %s", source, model.arch, report.summary())
    model.load_report = report
    return model.to(device)


# ------------------------------------------------------------------------------------------- saving
def save_checkpoint(model: nn.Module, out_dir: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write ``out_dir/model.safetensors`` (the plain open_clip CLIP state dict) and ``config.json``.

    For a non-long-text model ``open_clip_config.json`` is written too, so ``local-dir:out_dir`` also
    works in open_clip. ``extra`` must be JSON-serialisable (e.g. step, metrics). Returns ``out_dir``.
    """
    model = getattr(model, "module", model)  # unwrap DDP
    clip = _clip_of(model)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous().clone() for k, v in clip.state_dict().items()}
    config: dict[str, Any] = {"format": CHECKPOINT_FORMAT, "farslip_model_version": __version__}
    config.update(model.config() if hasattr(model, "config") else {"arch": None})
    try:
        import open_clip

        config["open_clip_version"] = open_clip.__version__
    except (ImportError, AttributeError):
        pass
    if extra is not None:
        try:
            json.dumps(extra)
        except TypeError as exc:
            raise TypeError(f"save_checkpoint extra must be JSON-serialisable: {exc}") from exc
        config["extra"] = extra
    tmp = out_dir / (WEIGHTS_NAME + ".tmp")
    save_file(state, str(tmp), metadata={"format": CHECKPOINT_FORMAT, "arch": str(config.get("arch"))})
    tmp.replace(out_dir / WEIGHTS_NAME)
    (out_dir / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    arch = config.get("arch")
    if arch and not is_long_text(clip):
        import open_clip

        model_cfg = dict(open_clip.get_model_config(arch) or {})
        if model_cfg:
            model_cfg["quick_gelu"] = bool(config.get("quick_gelu", model_cfg.get("quick_gelu", False)))
            oc = {"model_cfg": model_cfg, "preprocess_cfg": open_clip.get_model_preprocess_cfg(clip)}
            (out_dir / OPEN_CLIP_CONFIG_NAME).write_text(json.dumps(oc, indent=2) + "\n", encoding="utf-8")
    logger.info("saved checkpoint to %s", out_dir)
    return out_dir


__all__ = [
    "CheckpointError",
    "LoadReport",
    "load_checkpoint",
    "load_state_dict_file",
    "load_state_dict_flexible",
    "save_checkpoint",
    "unwrap_state_dict",
]
