"""Keep benchmark test images out of the training shards.

Three kinds of rules, each with a stable name (the key under ``objects_filtered`` and in the
report's ``dropped`` list):

* built-in id/split rules (on by default):
  ``ovss_eval_split`` drops the val/test images of the sources that are OVSS benchmarks (iSAID,
  LoveDA, ISPRS Potsdam and Vaihingen); ``isaid_eval_is_dota_eval`` drops DOTA's val/test images,
  because iSAID's val/test images *are* DOTA's (same ``P####`` ids, same pixels).
* ``user_ids``: id lists given by the user (``SOURCE IMAGE_ID`` or ``IMAGE_ID`` per line).
* ``phash_scene`` / ``phash_tile``: a 64-bit perceptual hash (``imagehash.phash``) of every scene and
  every tile is compared with the hashes of all images under the benchmark folders; a Hamming
  distance <= ``hash_distance`` drops it. Near-constant images (grey-level std < 2) are not hashed:
  their pHash is all zeros and would match every other flat image.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageStat

from .errors import AnnotationParseError, SourceNotFoundError

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})
OVSS_SOURCES = frozenset({"isaid", "loveda", "potsdam", "vaihingen"})
EVAL_SPLITS = frozenset({"val", "validation", "test"})
_DOTA_BASE = re.compile(r"^(P\d+)")
_MIN_STD = 2.0


def base_image_id(image_id: str) -> str:
    """DOTA/iSAID scene id of an image or patch id (``P0002_0_800_0_800`` -> ``P0002``)."""
    m = _DOTA_BASE.match(image_id)
    return m.group(1) if m else image_id


def load_id_list(path: Path) -> dict[str, frozenset[str]]:
    """Read an id list: one ``SOURCE IMAGE_ID`` or ``IMAGE_ID`` (any source, key ``*``) per line.

    Blank lines and ``#`` comments are ignored.

    Raises:
        SourceNotFoundError: missing file.
        AnnotationParseError: a line with more than two fields.
    """
    if not Path(path).is_file():
        raise SourceNotFoundError(f"{path}: leakage id list not found")
    ids: dict[str, set[str]] = {}
    for n, raw in enumerate(Path(path).read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) > 2:
            raise AnnotationParseError(path, n, f"{len(parts)} fields", "'SOURCE IMAGE_ID' or 'IMAGE_ID'")
        source, image_id = (parts[0], parts[1]) if len(parts) == 2 else ("*", parts[0])
        ids.setdefault(source, set()).add(image_id)
    return {k: frozenset(v) for k, v in ids.items()}


def image_phash(image: Image.Image) -> int | None:
    """64-bit pHash as an int, or None for a near-constant image."""
    import imagehash

    grey = image.convert("L")
    if ImageStat.Stat(grey).stddev[0] < _MIN_STD:
        return None
    return int(str(imagehash.phash(grey)), 16)


def hash_benchmark_dirs(dirs: Iterable[Path]) -> tuple[list[int], list[str]]:
    """pHashes of every image under ``dirs`` (recursive, sorted), with their paths.

    Raises:
        SourceNotFoundError: a folder does not exist.
    """
    hashes: list[int] = []
    paths: list[str] = []
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            raise SourceNotFoundError(f"{d}: benchmark folder not found")
        for p in sorted(d.rglob("*")):
            if p.suffix.lower() not in IMAGE_SUFFIXES or not p.is_file():
                continue
            try:
                with Image.open(p) as im:
                    h = image_phash(im)
            except OSError as err:
                logger.warning("benchmark image %s unreadable, not hashed: %s", p, err)
                continue
            if h is not None:
                hashes.append(h)
                paths.append(str(p))
    logger.info("hashed %d benchmark images", len(hashes))
    return hashes, paths


@dataclass(frozen=True)
class LeakageConfig:
    """What the guard drops.

    Args:
        builtin_rules: apply the built-in split/id rules.
        id_lists: per source reader name (or ``*``) the image ids to drop.
        benchmark_dirs: folders of benchmark images to compare against by pHash.
        hash_distance: largest Hamming distance (of 64 bits) that counts as the same image.
    """

    builtin_rules: bool = True
    id_lists: Mapping[str, frozenset[str]] = field(default_factory=dict)
    benchmark_dirs: tuple[Path, ...] = ()
    hash_distance: int = 4

    def fingerprint(self) -> dict[str, object]:
        """JSON-able description (used in the build report and the resume check)."""
        return {
            "builtin_rules": self.builtin_rules,
            "id_lists": {k: sorted(v) for k, v in sorted(self.id_lists.items())},
            "benchmark_dirs": [str(p) for p in self.benchmark_dirs],
            "hash_distance": self.hash_distance,
        }


class LeakageGuard:
    """Applies a :class:`LeakageConfig`. Cheap to pickle (hashes are plain ints)."""

    def __init__(self, config: LeakageConfig | None = None, *, hashes: list[int] | None = None,
                 hash_paths: list[str] | None = None) -> None:
        self.config = config or LeakageConfig()
        if hashes is None:
            hashes, hash_paths = hash_benchmark_dirs(self.config.benchmark_dirs)
        self.hash_paths = hash_paths or []
        self._hashes = np.array(hashes, dtype=np.uint64)

    @property
    def uses_hashes(self) -> bool:
        """Whether any benchmark image was hashed."""
        return self._hashes.size > 0

    def scene_rule(self, reader: str, image_id: str, split: str) -> str | None:
        """Name of the id/split rule that drops this scene, or None."""
        if self.config.builtin_rules and split.lower() in EVAL_SPLITS:
            if reader in OVSS_SOURCES:
                return "ovss_eval_split"
            if reader == "dota":
                return "isaid_eval_is_dota_eval"
        for key in (reader, "*"):
            ids = self.config.id_lists.get(key, frozenset())
            if image_id in ids or base_image_id(image_id) in ids:
                return "user_ids"
        return None

    def match(self, image: Image.Image) -> str | None:
        """Path of the benchmark image that ``image`` duplicates, or None."""
        if not self.uses_hashes:
            return None
        h = image_phash(image)
        if h is None:
            return None
        xor = np.bitwise_xor(self._hashes, np.uint64(h))
        dist = np.unpackbits(xor.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
        best = int(np.argmin(dist))
        return self.hash_paths[best] if int(dist[best]) <= self.config.hash_distance else None
