"""Image-text encoders behind one protocol, with adapters for open_clip-family checkpoints.

``load_encoder(model, pretrained)`` accepts:

* any open_clip architecture name with an open_clip pretrained tag (``ViT-B-16``, ``openai``),
  ``None``/``"none"`` (random init) or a local state-dict file (``.pt``/``.pth``/``.bin``/
  ``.safetensors``; a bare state dict or a training checkpoint with ``state_dict``, ``module.``
  prefixes stripped; loaded with ``weights_only=True``);
* ``farslip:PATH`` for a folder written by ``farslip_model.save_checkpoint``.

Released files of the known RS CLIP families are recognised by file name (``FAMILIES``):
FarSLIP1/FarSLIP2 and GeoRSCLIP (RS5M) are built with QuickGELU (OpenAI lineage, as their own
loaders do), RemoteCLIP and SkyCLIP with the architecture's own activation, as their READMEs load
them. The text context (77, or 248 for Long-CLIP files such as FarSLIP2) is read from the
``positional_embedding`` shape. ``quick_gelu=`` (or an ``-quickgelu`` architecture name) overrides this.

ViT models get the dense readout of ``farslip_model`` (the one FarSLIP trains); other towers
(ModifiedResNet, timm) have ``has_dense=False`` and :class:`NoDenseReadoutError` on ``encode_dense``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import open_clip
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

log = logging.getLogger(__name__)

__all__ = [
    "FAMILIES",
    "CheckpointMismatchError",
    "ClipEncoder",
    "EncoderLoadError",
    "ImageTextEncoder",
    "NoDenseReadoutError",
    "file_sha256",
    "load_encoder",
    "read_state_dict",
]

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)

#: File-name patterns of released RS CLIP weights -> family name and whether QuickGELU is needed.
FAMILIES: tuple[tuple[str, str, bool], ...] = (
    (r"farslip", "FarSLIP", True),
    (r"rs5m|georsclip", "GeoRSCLIP", True),
    (r"remoteclip", "RemoteCLIP", False),
    (r"skyclip|skyscript", "SkyCLIP", False),
)

#: Model keys that may legitimately be absent from a checkpoint (recomputed buffers, optional heads).
_OPTIONAL_KEYS = re.compile(r"(^|\.)(attn_mask|mask1|mask2|positional_embedding_res|logit_bias)$")


class EncoderLoadError(RuntimeError):
    """The model or checkpoint could not be loaded."""


class CheckpointMismatchError(EncoderLoadError):
    """A checkpoint lacks weights the architecture needs (wrong architecture or a truncated file)."""


class NoDenseReadoutError(RuntimeError):
    """The model has no patch-level (dense) readout, so it cannot be used for OVSS."""


@runtime_checkable
class ImageTextEncoder(Protocol):
    """What every suite needs from a model (docs/interfaces.md section 3.1)."""

    name: str
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    has_dense: bool
    provenance: dict[str, Any]

    def encode_images(self, images: Tensor) -> Tensor: ...
    def encode_texts(self, texts: list[str]) -> Tensor: ...
    def encode_dense(self, images: Tensor) -> Tensor: ...
    def preprocess(self, image: Image.Image) -> Tensor: ...


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """Read a state dict safely with ``farslip_model``'s reader (safetensors, or weights_only pickle).

    Unwraps ``{"state_dict": ...}`` training checkpoints and strips ``module.``; errors name the file.
    """
    from farslip_model.checkpoint import load_state_dict_file

    try:
        return load_state_dict_file(path)
    except (OSError, ValueError) as exc:
        raise EncoderLoadError(f"{path}: cannot read checkpoint: {exc}") from exc


def _family(path: Path) -> tuple[str | None, bool | None]:
    name = path.name.lower()
    for pattern, family, quick in FAMILIES:
        if re.search(pattern, name):
            return family, quick
    return None, None


def _is_vit_arch(arch: str) -> bool | None:
    from farslip_model import list_models

    if arch not in list_models():
        return None
    cfg = open_clip.get_model_config(arch) or {}
    vision = cfg.get("vision_cfg", {})
    return not isinstance(vision.get("layers"), (list, tuple)) and not vision.get("timm_model_name")


def _uses_quick_gelu(module: nn.Module) -> bool:
    """What the built model really uses (an architecture config may force QuickGELU on its own)."""
    from open_clip.transformer import QuickGELU

    return any(isinstance(m, QuickGELU) for m in module.modules())


def _as_int(size: Any) -> int:
    return int(size[0]) if isinstance(size, (tuple, list)) else int(size)


class ClipEncoder:
    """:class:`ImageTextEncoder` over a ``farslip_model.FarSLIPModel`` (ViT) or a plain open_clip model.

    Outputs are float32 and L2-normalised. ``precision="amp"`` runs the towers under fp16 autocast
    on CUDA (the OVSS protocol's fp16).
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        name: str,
        provenance: dict[str, Any],
        dense: bool,
        tokenizer: Any | None = None,
        device: str = "cpu",
        precision: str = "fp32",
        text_batch_size: int = 256,
    ) -> None:
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.precision = precision
        self.text_batch_size = text_batch_size
        self.name = name
        self.has_dense = dense
        clip = getattr(model, "clip", model)
        self.image_size = _as_int(getattr(model, "image_size", None) or clip.visual.image_size)
        cfg = getattr(clip.visual, "preprocess_cfg", {}) or {}
        self.mean = tuple(getattr(model, "mean", None) or cfg.get("mean") or OPENAI_MEAN)
        self.std = tuple(getattr(model, "std", None) or cfg.get("std") or OPENAI_STD)
        self.context_length = int(getattr(model, "context_length", None) or clip.context_length)
        patch = getattr(model, "patch_size", None) or getattr(clip.visual, "patch_size", None)
        self.patch_size = _as_int(patch) if patch else None
        self._tokenizer = tokenizer
        self._transform = open_clip.image_transform(self.image_size, is_train=False, mean=self.mean, std=self.std)
        self.provenance = {**provenance, "has_dense": dense, "image_size": self.image_size}

    def __repr__(self) -> str:
        return f"ClipEncoder({self.name!r}, dense={self.has_dense}, context={self.context_length})"

    @contextlib.contextmanager
    def _ctx(self) -> Iterator[None]:
        with torch.inference_mode():
            if self.precision == "amp" and self.device.type == "cuda":
                with torch.autocast("cuda", dtype=torch.float16):
                    yield
            else:
                yield

    def tokenize(self, texts: list[str]) -> Tensor:
        """Token ids (T, context_length) with the model's own tokenizer and context."""
        if hasattr(self.model, "tokenize"):
            return self.model.tokenize(texts)
        return self._tokenizer(texts)

    def preprocess(self, image: Image.Image) -> Tensor:
        """The eval transform: shortest-side resize, centre crop, normalise."""
        return self._transform(image.convert("RGB"))

    def encode_images(self, images: Tensor) -> Tensor:
        with self._ctx():
            out = self.model.encode_image(images.to(self.device))
        return F.normalize(out.float(), dim=-1)

    def encode_texts(self, texts: list[str]) -> Tensor:
        chunks = []
        for i in range(0, len(texts), self.text_batch_size):
            tokens = self.tokenize(list(texts[i : i + self.text_batch_size])).to(self.device)
            with self._ctx():
                chunks.append(F.normalize(self.model.encode_text(tokens).float(), dim=-1))
        if not chunks:
            raise ValueError("encode_texts needs at least one text")
        return torch.cat(chunks)

    def encode_dense_with_cls(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """(cls (B, D), dense (B, h, w, D)), both L2-normalised, from one pass of the dense readout."""
        if not self.has_dense:
            raise NoDenseReadoutError(
                f"{self.name}: no dense (patch) readout for this architecture; OVSS needs a ViT"
            )
        with self._ctx():
            cls, dense = self.model.encode_image_with_dense(images.to(self.device))
        return F.normalize(cls.float(), dim=-1), F.normalize(dense.float(), dim=-1)

    def encode_dense(self, images: Tensor) -> Tensor:
        return self.encode_dense_with_cls(images)[1]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "model"


def _check_report(report: Any, source: str) -> dict[str, Any]:
    missing = [k for k in getattr(report, "missing", []) if not _OPTIONAL_KEYS.search(k)]
    unexpected = list(getattr(report, "unexpected", []))
    if missing:
        shown = ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else "")
        raise CheckpointMismatchError(
            f"{source}: {len(missing)} weights the architecture needs are not in the checkpoint "
            f"({shown}); is the architecture right?"
        )
    if unexpected:
        log.warning("%s: %d unexpected keys ignored (e.g. %s)", source, len(unexpected), unexpected[:3])
    return {"missing": len(getattr(report, "missing", [])), "unexpected": len(unexpected),
            "notes": list(getattr(report, "notes", []))}


def _load_farslip(path: Path, device: str, precision: str) -> ClipEncoder:
    """Our checkpoint folder (config.json + model.safetensors) via ``farslip_model.load_checkpoint``."""
    from farslip_model import load_checkpoint

    if not path.exists():
        raise EncoderLoadError(f"{path}: FarSLIP checkpoint folder not found")
    try:
        model = load_checkpoint(path)
    except (OSError, ValueError) as exc:
        raise EncoderLoadError(f"{path}: {exc}") from exc
    weights = path / "model.safetensors" if path.is_dir() else path
    prov = {
        "name": f"farslip:{path}",
        "arch": str(model.arch),
        "pretrained": str(path),
        "family": "FarSLIP (farslip_model checkpoint)",
        "checkpoint_sha256": file_sha256(weights) if weights.is_file() else None,
        "context_length": int(model.context_length),
        "quick_gelu": _uses_quick_gelu(model),
        "dense_readout": f"farslip_model.encode_image_with_dense ({model.dense_variant})",
    }
    label = f"{path.parent.name}_{path.name}" if path.name in {"final", "model.safetensors"} else path.name
    return ClipEncoder(model, name=f"farslip_{_slug(label)}", provenance=prov, dense=True, device=device,
                       precision=precision)


def load_encoder(
    model: str,
    pretrained: str | None = None,
    device: str = "cpu",
    *,
    quick_gelu: bool | None = None,
    precision: str = "fp32",
) -> ClipEncoder:
    """Build an :class:`ImageTextEncoder` (see the module docstring for what is accepted).

    ``quick_gelu``: None picks it from the file's family (``FAMILIES``), else ``farslip_model``'s
    default (QuickGELU for OpenAI architectures such as ViT-B-16), else the architecture's own.
    """
    if model.startswith("farslip:"):
        return _load_farslip(Path(model.removeprefix("farslip:")), device, precision)
    tag = None if pretrained is None or str(pretrained).strip().lower() in {"", "none"} else str(pretrained)
    local: Path | None = None
    if tag is not None and (Path(tag).exists() or Path(tag).suffix in {".pt", ".pth", ".bin", ".safetensors"}):
        local = Path(tag)
        if local.is_dir():
            return _load_farslip(local, device, precision)
    family, family_quick = _family(local) if local is not None else (None, None)
    want_quick = quick_gelu if quick_gelu is not None else family_quick
    is_vit = _is_vit_arch(model)
    if is_vit is None:
        raise EncoderLoadError(
            f"unknown architecture {model!r}; expected an open_clip model name "
            "(e.g. ViT-B-16, ViT-B-32, RN50, FarSLIP-Tiny) or farslip:PATH"
        )
    state = read_state_dict(local) if local is not None else None
    from farslip_model import create_model, load_state_dict_flexible

    try:
        if is_vit:
            net: nn.Module = create_model(model, pretrained=tag if local is None else None, quick_gelu=want_quick)
            clip = net.clip  # type: ignore[attr-defined]
        else:
            net = open_clip.create_model(model, pretrained=tag if local is None else None,
                                         force_quick_gelu=bool(want_quick))
            clip = net
    except (OSError, ValueError, RuntimeError) as exc:
        raise EncoderLoadError(f"cannot build {model!r} with pretrained={pretrained!r}: {exc}") from exc
    load_info: dict[str, Any] = {}
    if state is not None:
        try:
            report = load_state_dict_flexible(net, state)
        except ValueError as exc:
            raise CheckpointMismatchError(f"{local}: does not fit {model}: {exc}") from exc
        load_info = _check_report(report, str(local))
    ctx_len = int(clip.context_length)
    if state is not None and "positional_embedding" in state and int(state["positional_embedding"].shape[0]) != ctx_len:
        raise CheckpointMismatchError(
            f"{local}: checkpoint has {state['positional_embedding'].shape[0]} text positions but the "
            f"model was built with {ctx_len}"
        )
    tokenizer = None if is_vit else open_clip.get_tokenizer(model, context_length=ctx_len)
    prov = {
        "name": model if tag is None else f"{model}@{tag}",
        "arch": model,
        "pretrained": tag,
        "family": family,
        "checkpoint_sha256": file_sha256(local) if local is not None else None,
        "context_length": ctx_len,
        "quick_gelu": _uses_quick_gelu(clip),
        "load_report": load_info,
        "dense_readout": "farslip_model.encode_image_with_dense (segearth)" if is_vit else None,
    }
    name = _slug(f"{model}__{local.stem if local is not None else (tag or 'random')}")
    return ClipEncoder(net, name=name, provenance=prov, dense=bool(is_vit), tokenizer=tokenizer, device=device,
                       precision=precision)
