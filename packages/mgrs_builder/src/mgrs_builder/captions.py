"""Tile captioners: one interface, two backends.

* ``template`` (backend ``template-v1``): deterministic short and long captions composed from the
  tile's objects: counts per category, rough layout on a 3x3 grid, ground footprint from the GSD.
* ``hf:MODEL_ID`` (backend ``hf``): an image-to-text model through ``transformers``
  (``AutoProcessor`` + ``AutoModelForImageTextToText``), imported lazily so that this module, and
  mgrs_builder as a whole, never imports torch unless that backend is used.

Every caption records the backend and model that wrote it.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from .errors import MgrsBuilderError

if TYPE_CHECKING:
    from PIL import Image

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaptionObject:
    """What a captioner knows about one object: its canonical category and box in tile pixels."""

    category: str
    bbox: tuple[float, float, float, float]
    truncated: bool = False


@dataclass(frozen=True)
class TileContext:
    """Input to a captioner. ``image`` is the tile itself (RGB), needed by model backends only."""

    width: int
    height: int
    objects: Sequence[CaptionObject] = ()
    gsd: float | None = None
    source: str = ""
    image: Image.Image | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Caption:
    """A short and a long caption with their provenance."""

    short: str
    long: str
    backend: str
    model: str | None


class Captioner(ABC):
    """Writes a short and a long caption for one tile."""

    backend: ClassVar[str]
    needs_image: ClassVar[bool] = False

    @property
    def model(self) -> str | None:
        """Model id recorded with the captions (None for non-model backends)."""
        return None

    @abstractmethod
    def caption(self, tile: TileContext) -> Caption:
        """Caption one tile."""


_NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_ROWS = ("top", "middle", "bottom")
_COLS = ("left", "center", "right")


def _position(bbox: tuple[float, float, float, float], width: int, height: int) -> str:
    cx = (bbox[0] + bbox[2]) / 2
    cy = (bbox[1] + bbox[3]) / 2
    col = min(int(3 * cx / max(width, 1)), 2)
    row = min(int(3 * cy / max(height, 1)), 2)
    r, c = _ROWS[row], _COLS[col]
    if r == "middle":
        return "center" if c == "center" else c
    return r if c == "center" else f"{r} {c}"


def _noun(category: str) -> str:
    return category.replace("_", " ").replace("-", " ").strip().lower()


def _plural(noun: str) -> str:
    head, _, last = noun.rpartition(" ")
    if last.endswith(("s", "x", "ch", "sh")):
        last += "es"
    elif last.endswith("y") and last[-2:-1] not in "aeiou":
        last = last[:-1] + "ies"
    else:
        last += "s"
    return f"{head} {last}" if head else last


def _count_phrase(n: int, noun: str) -> str:
    if n == 1:
        article = "an" if noun[:1] in "aeiou" else "a"
        return f"{article} {noun}"
    words = _NUMBER_WORDS[n] if n < len(_NUMBER_WORDS) else str(n)
    return f"{words} {_plural(noun)}"


def _join(parts: Sequence[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


class TemplateCaptioner(Captioner):
    """Deterministic captions from the objects of a tile (no model, no randomness).

    Args:
        max_categories: categories named in the short caption (most frequent first).
    """

    backend = "template-v1"

    def __init__(self, max_categories: int = 3) -> None:
        self.max_categories = max_categories

    def caption(self, tile: TileContext) -> Caption:
        counts = Counter(_noun(o.category) for o in tile.objects)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        if not ranked:
            short = "An aerial image with no annotated objects."
        else:
            named = [_count_phrase(n, c) for c, n in ranked[: self.max_categories]]
            rest = sum(n for _, n in ranked[self.max_categories:])
            if rest:
                named.append(f"{rest} other object{'s' if rest > 1 else ''}")
            short = f"An aerial image with {_join(named)}."
        return Caption(short, self._long(tile, ranked), self.backend, None)

    def _long(self, tile: TileContext, ranked: list[tuple[str, int]]) -> str:
        sentences = []
        if tile.gsd is not None and tile.gsd > 0:
            w_m, h_m = tile.width * tile.gsd, tile.height * tile.gsd
            sentences.append(
                f"An aerial image covering about {w_m:.0f} by {h_m:.0f} metres at {tile.gsd:.2g} m per pixel."
            )
        else:
            sentences.append(f"An aerial image of {tile.width} by {tile.height} pixels.")
        if not ranked:
            sentences.append("No objects are annotated in it.")
            return " ".join(sentences)
        where: dict[str, Counter[str]] = defaultdict(Counter)
        for o in tile.objects:
            where[_noun(o.category)][_position(o.bbox, tile.width, tile.height)] += 1
        parts = []
        for noun, n in ranked:
            places = [p for p, _ in sorted(where[noun].items(), key=lambda kv: (-kv[1], kv[0]))[:3]]
            loc = "the " + _join(places) if len(places) < 3 or n < 4 else "several parts"
            verb = "is" if n == 1 else "are"
            parts.append(f"{_count_phrase(n, noun)} {verb} in {loc}")
        sentences.append(_capitalise(_join(parts)) + ".")
        cut = sum(1 for o in tile.objects if o.truncated)
        if cut:
            sentences.append(f"{_capitalise(_count_phrase(cut, 'object'))} {'is' if cut == 1 else 'are'} "
                             "cut by the image border.")
        return " ".join(sentences)


def _capitalise(s: str) -> str:
    return s[:1].upper() + s[1:]


class HFCaptioner(Captioner):
    """Captions from a ``transformers`` image-to-text model (e.g. BLIP), greedy decoding.

    Args:
        model_id: a Hub id or a local folder holding the model and its processor.
        prompt_short: text prefix for the short caption (None: unconditional).
        prompt_long: text prefix for the long caption.
        max_new_tokens_short: generation budget of the short caption.
        max_new_tokens_long: generation budget of the long caption.
        device: torch device string.
    """

    backend = "hf"
    needs_image = True

    def __init__(self, model_id: str, *, prompt_short: str | None = None,
                 prompt_long: str | None = "an aerial image of", max_new_tokens_short: int = 20,
                 max_new_tokens_long: int = 60, device: str = "cpu") -> None:
        self.model_id = model_id
        self.prompt_short = prompt_short
        self.prompt_long = prompt_long
        self.max_new_tokens_short = max_new_tokens_short
        self.max_new_tokens_long = max_new_tokens_long
        self.device = device
        self._model: Any = None
        self._processor: Any = None

    @property
    def model(self) -> str | None:
        return self.model_id

    def __getstate__(self) -> dict[str, Any]:
        # worker processes load their own copy; never pickle a loaded model
        return {**self.__dict__, "_model": None, "_processor": None}

    def _load(self) -> None:
        if self._model is not None:
            return
        try:
            from transformers import AutoModelForImageTextToText, AutoProcessor
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise MgrsBuilderError(
                "the hf captioner needs transformers and torch: pip install 'mgrs-builder[hf]'"
            ) from err
        logger.info("loading captioning model %s", self.model_id)
        self._processor = AutoProcessor.from_pretrained(self.model_id)
        self._model = AutoModelForImageTextToText.from_pretrained(self.model_id).to(self.device).eval()

    def _generate(self, image: Image.Image, prompt: str | None, max_new_tokens: int) -> str:
        import torch

        kwargs: dict[str, Any] = {"images": image, "return_tensors": "pt"}
        if prompt:
            kwargs["text"] = prompt
        inputs = self._processor(**kwargs).to(self.device)
        with torch.inference_mode():
            out = self._model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
        text = str(self._processor.batch_decode(out, skip_special_tokens=True)[0]).strip()
        return text or "an aerial image."

    def caption(self, tile: TileContext) -> Caption:
        if tile.image is None:
            raise MgrsBuilderError("the hf captioner needs the tile image (TileContext.image is None)")
        self._load()
        image = tile.image.convert("RGB")
        short = self._generate(image, self.prompt_short, self.max_new_tokens_short)
        long = self._generate(image, self.prompt_long, self.max_new_tokens_long)
        return Caption(short, long, self.backend, self.model_id)


def make_captioner(spec: str | Captioner, **options: Any) -> Captioner:
    """Captioner from a spec: ``"template"`` or ``"hf:MODEL_ID"`` (options go to its constructor).

    Raises:
        MgrsBuilderError: for an unknown spec (the message lists the accepted forms).
    """
    if isinstance(spec, Captioner):
        return spec
    if spec in ("template", "template-v1"):
        return TemplateCaptioner(**options)
    if spec.startswith("hf:") and len(spec) > 3:
        return HFCaptioner(spec[3:], **options)
    raise MgrsBuilderError(f"unknown captioner {spec!r}; expected 'template' or 'hf:MODEL_ID'")
