"""Image decoding shared by the classification and retrieval loaders (RGB PIL images).

Multispectral GeoTIFFs (EuroSAT's 13-band Sentinel-2 release) are turned into RGB from bands
B4, B3, B2 (indices 3, 2, 1), with reflectance scaled so that 3000 maps to 255 and clipped; this is
the usual true-colour rendering of EuroSAT and what its RGB release looks like.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from farslip_eval.dataset_errors import DatasetError

if TYPE_CHECKING:
    from torch import Tensor

SENTINEL2_RGB_BANDS: tuple[int, int, int] = (3, 2, 1)
SENTINEL2_RGB_SCALE: float = 3000.0
_TIFF_SUFFIXES = {".tif", ".tiff"}


def _array_to_rgb(array: np.ndarray, path: Path) -> Image.Image:
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3:
        raise DatasetError(path, f"expected an H x W x bands image, got array shape {array.shape}")
    if array.shape[0] in (3, 4, 13) and array.shape[-1] > 13:  # bands-first TIFF
        array = np.moveaxis(array, 0, -1)
    bands = array.shape[-1]
    if bands == 13:
        rgb = array[:, :, list(SENTINEL2_RGB_BANDS)].astype(np.float32)
        rgb = np.clip(rgb / SENTINEL2_RGB_SCALE * 255.0, 0, 255).astype(np.uint8)
    elif bands in (3, 4):
        rgb = array[:, :, :3]
        if rgb.dtype != np.uint8:
            top = float(rgb.max()) or 1.0
            rgb = np.clip(rgb.astype(np.float32) / top * 255.0, 0, 255).astype(np.uint8)
    else:
        raise DatasetError(path, f"cannot make RGB from {bands} bands (expected 1, 3, 4 or 13)")
    return Image.fromarray(np.ascontiguousarray(rgb), mode="RGB")


def load_rgb(path: str | Path) -> Image.Image:
    """Decode an image file to an RGB PIL image; a clear :class:`DatasetError` if it cannot be read."""
    p = Path(path)
    if not p.is_file():
        raise DatasetError(p, "image file not found")
    try:
        with Image.open(p) as im:
            simple = im.mode in ("RGB", "L", "RGBA", "P", "CMYK", "I;16", "I", "F")
            if simple and getattr(im, "n_frames", 1) == 1:
                if im.mode in ("I;16", "I", "F"):
                    return _array_to_rgb(np.asarray(im), p)
                return im.convert("RGB")
    except UnidentifiedImageError:
        if p.suffix.lower() not in _TIFF_SUFFIXES:
            raise DatasetError(p, "image failed to decode (not a readable image file)") from None
    except OSError as exc:
        if p.suffix.lower() not in _TIFF_SUFFIXES:
            raise DatasetError(p, f"image failed to decode ({exc})") from None
    try:  # multispectral or otherwise PIL-unreadable TIFF
        import tifffile

        return _array_to_rgb(tifffile.imread(p), p)
    except DatasetError:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure is reported with the file name
        raise DatasetError(p, f"image failed to decode ({exc})") from None


class ImageFiles:
    """A map-style dataset of preprocessed images from a list of paths (yields ``(tensor, index)``)."""

    def __init__(self, paths: list[Path], preprocess: Callable[[Image.Image], Tensor]) -> None:
        self.paths = paths
        self.preprocess = preprocess

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        return self.preprocess(load_rgb(self.paths[i])), i


def encode_image_files(encoder: Any, paths: list[Path], *, batch_size: int = 32, device: str = "cpu",
                       workers: int = 0, progress: bool = False, desc: str = "images") -> Tensor:
    """L2-normalised image embeddings ``(N, D)`` of ``paths``, in order, batched through a DataLoader."""
    import torch
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    loader = DataLoader(ImageFiles(list(paths), encoder.preprocess), batch_size=batch_size, shuffle=False,
                        num_workers=workers)
    chunks = []
    with torch.inference_mode():
        for images, _ in tqdm(loader, desc=desc, disable=not progress, leave=False):
            chunks.append(encoder.encode_images(images.to(device)).float().cpu())
    return torch.cat(chunks) if chunks else torch.zeros(0, 0)
