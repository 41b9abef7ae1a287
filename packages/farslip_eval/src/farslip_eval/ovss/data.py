"""Reading an OVSS dataset folder: image/label pairing, decoding and label checks.

Bad input is never turned into a silent number: with ``on_bad="error"`` (the default) the first
problem raises :class:`OvssDataError` naming the file; with ``on_bad="skip"`` the sample is dropped
and counted under its reason in :attr:`OvssDataset.skipped`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from farslip_eval.ovss.specs import OvssSpec

log = logging.getLogger(__name__)

__all__ = ["DatasetNotFoundError", "OnBad", "OvssDataError", "OvssDataset", "Sample", "read_image", "read_label"]

OnBad = Literal["error", "skip"]


class OvssDataError(ValueError):
    """A dataset file that cannot be used as it is (the message names the file)."""

    def __init__(self, path: Path, problem: str, reason: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.reason = reason


class DatasetNotFoundError(FileNotFoundError):
    """The dataset's folders are not under the data root."""


@dataclass(frozen=True)
class Sample:
    """One evaluation pair: image (H, W, 3) uint8 RGB and label (H, W) int64 in class-id space."""

    name: str
    image_path: Path
    label_path: Path
    image: np.ndarray
    label: np.ndarray


def _decode(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            im.load()
            return np.asarray(im)
    except Exception as pil_exc:  # noqa: BLE001 - fall back to tifffile for exotic TIFFs
        if path.suffix.lower() in {".tif", ".tiff"}:
            try:
                import tifffile

                return np.asarray(tifffile.imread(path))
            except Exception:  # noqa: BLE001
                pass
        raise OvssDataError(path, f"cannot decode image ({type(pil_exc).__name__}: {pil_exc})", "undecodable") from pil_exc


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image to (H, W, 3) uint8 RGB (grey is replicated, alpha dropped)."""
    p = Path(path)
    arr = _decode(p)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] < 3:
        raise OvssDataError(p, f"expected an RGB image, got array shape {arr.shape}", "undecodable")
    arr = arr[:, :, :3]
    if arr.dtype != np.uint8:
        if arr.max() > 255 or arr.min() < 0:
            raise OvssDataError(p, f"pixel values outside 0..255 in a {arr.dtype} image", "undecodable")
        arr = arr.astype(np.uint8)
    return np.ascontiguousarray(arr)


def _palette_to_index(arr: np.ndarray, palette: tuple[tuple[int, int, int], ...], path: Path) -> np.ndarray:
    flat = arr[:, :, :3].reshape(-1, 3).astype(np.int64)
    code = (flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]
    keys = np.array([(r << 16) | (g << 8) | b for r, g, b in palette], dtype=np.int64)
    order = np.argsort(keys)
    pos = np.clip(np.searchsorted(keys[order], code), 0, len(keys) - 1)
    found = keys[order][pos] == code
    if not found.all():
        bad = code[~found]
        colours = sorted({(int(c) >> 16, (int(c) >> 8) & 255, int(c) & 255) for c in np.unique(bad)[:5]})
        raise OvssDataError(
            path, f"{bad.size} pixels have colours outside the dataset palette (e.g. {colours})", "label_out_of_range"
        )
    return order[pos].reshape(arr.shape[:2]).astype(np.int64)


def read_label(path: str | Path, spec: OvssSpec, num_classes: int) -> np.ndarray:
    """Decode a label map into class ids, apply ``reduce_zero_label`` and check every value.

    Allowed values after reduction are ``0..num_classes-1`` and ``spec.ignore_index``; anything
    else raises :class:`OvssDataError` (reason ``label_out_of_range``) listing the offending values.
    """
    p = Path(path)
    arr = _decode(p)
    if arr.ndim == 3:
        if spec.palette is not None and arr.shape[2] >= 3:
            arr = _palette_to_index(arr, spec.palette, p)
        elif all(np.array_equal(arr[:, :, 0], arr[:, :, c]) for c in range(1, arr.shape[2])):
            arr = arr[:, :, 0]
        else:
            raise OvssDataError(p, "colour label map, but this dataset expects single-channel class ids", "bad_label")
    label = arr.astype(np.int64)
    if spec.reduce_zero_label:
        # mmseg: 0 -> 255 (ignored), v -> v - 1 (254 stays the ignore value after the shift)
        label[label == 0] = 255
        label = label - 1
        label[label == 254] = 255
    valid = (label >= 0) & (label < num_classes)
    if spec.ignore_index is not None:
        valid |= label == spec.ignore_index
    if not valid.all():
        bad = np.unique(label[~valid])
        raw = bad + 1 if spec.reduce_zero_label else bad
        raise OvssDataError(
            p,
            f"label values {raw[:10].tolist()} (as stored) are outside the {num_classes} classes "
            f"and the ignore index {spec.ignore_index}",
            "label_out_of_range",
        )
    return label


class OvssDataset:
    """The pairs of one OVSS dataset, checked up front for pairing and read lazily."""

    def __init__(self, spec: OvssSpec, data_root: str | Path | None = None, on_bad: OnBad = "error") -> None:
        if on_bad not in ("error", "skip"):
            raise ValueError(f"on_bad must be 'error' or 'skip', got {on_bad!r}")
        self.spec = spec
        self.on_bad = on_bad
        self.skipped: Counter[str] = Counter()
        self.skipped_files: list[str] = []
        self.class_names = spec.class_names()
        img_dir, ann_dir = spec.image_dir(data_root), spec.label_dir(data_root)
        for d in (img_dir, ann_dir):
            if not d.is_dir():
                raise DatasetNotFoundError(f"{spec.name}: folder {d} not found (expected {spec.expected_layout()})")
        images = sorted(p for p in img_dir.iterdir() if p.is_file() and p.name.endswith(spec.img_suffix))
        if not images:
            raise DatasetNotFoundError(f"{spec.name}: no *{spec.img_suffix} images in {img_dir}")
        self.pairs: list[tuple[Path, Path]] = []
        for img in images:
            stem = img.name[: -len(spec.img_suffix)]
            lab = ann_dir / f"{stem}{spec.seg_map_suffix}"
            if not lab.is_file():
                self._bad(OvssDataError(img, f"no label file {lab.name} in {ann_dir}", "missing_label"))
                continue
            self.pairs.append((img, lab))
        paired = {lab.name for _, lab in self.pairs}
        orphans = [p for p in ann_dir.iterdir() if p.name.endswith(spec.seg_map_suffix) and p.name not in paired]
        missing_images = [p for p in orphans if not (img_dir / (p.name[: -len(spec.seg_map_suffix)] + spec.img_suffix)).is_file()]
        if missing_images:
            log.warning("%s: %d label files have no image (e.g. %s)", spec.name, len(missing_images), missing_images[0].name)
            self.skipped["label_without_image"] += len(missing_images)

    def _bad(self, err: OvssDataError) -> None:
        if self.on_bad == "error":
            raise err
        log.warning("skipping %s", err)
        self.skipped[err.reason] += 1
        if len(self.skipped_files) < 50:
            self.skipped_files.append(str(err))

    def __len__(self) -> int:
        return len(self.pairs)

    def load(self, index: int) -> Sample | None:
        """Decode and check pair ``index``; ``None`` when it was skipped (``on_bad="skip"``)."""
        img_path, lab_path = self.pairs[index]
        try:
            image = read_image(img_path)
            label = read_label(lab_path, self.spec, len(self.class_names))
            if image.shape[:2] != label.shape:
                raise OvssDataError(
                    lab_path, f"label size {label.shape} does not match image {img_path.name} size {image.shape[:2]}",
                    "size_mismatch",
                )
        except OvssDataError as err:
            self._bad(err)
            return None
        name = img_path.name[: -len(self.spec.img_suffix)]
        return Sample(name, img_path, lab_path, image, label)

    def __iter__(self) -> Iterator[Sample]:
        for i in range(len(self.pairs)):
            sample = self.load(i)
            if sample is not None:
                yield sample
