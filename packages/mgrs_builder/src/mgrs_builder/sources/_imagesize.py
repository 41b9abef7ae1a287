"""Image width and height from the file header only (PIL opens lazily; no pixels are decoded)."""

from __future__ import annotations

import logging
from pathlib import Path

from PIL import Image

logger = logging.getLogger(__name__)


def read_image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) of the image at ``path``, or None when it is missing or unreadable.

    Unreadable images are not an error here: decoding is the builder's job, and it counts them.
    """
    try:
        with Image.open(path) as im:
            return int(im.width), int(im.height)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        logger.debug("cannot read the header of %s: %s", path, exc)
        return None
