"""Fixtures for farslip_model tests: tiny shard folders built by mgrs_builder, and raw shard writers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image, ImageDraw

from mgrs_builder.schema import arrow_schema

torch.set_num_threads(1)

# DOTA labels drawn as coloured shapes, so a tiny model can learn image-caption agreement.
DOTA_SHAPES = {
    "plane": (220, 40, 40),
    "ship": (40, 60, 220),
    "storage-tank": (40, 200, 60),
    "small-vehicle": (230, 210, 40),
    "harbor": (200, 60, 200),
}


def make_dota_tree(root: Path, n_images: int = 12, size: int = 96, seed: int = 0) -> Path:
    """A DOTA-layout tree (``train/images/*.png`` + ``train/labelTxt/*.txt``) of coloured objects."""
    rng = np.random.default_rng(seed)
    labels = list(DOTA_SHAPES)
    for i in range(n_images):
        base = rng.integers(60, 120, size=3)
        pixels = np.clip(base + rng.normal(0, 8, size=(size, size, 3)), 0, 255).astype(np.uint8)
        img = Image.fromarray(pixels, "RGB")
        draw = ImageDraw.Draw(img)
        lines = ["imagesource:synthetic", "gsd:0.5"]
        for _ in range(int(rng.integers(2, 6))):
            label = labels[int(rng.integers(len(labels)))]
            w, h = (int(v) for v in rng.integers(10, 26, size=2))
            x, y = int(rng.integers(0, size - w)), int(rng.integers(0, size - h))
            draw.rectangle([x, y, x + w - 1, y + h - 1], fill=DOTA_SHAPES[label])
            quad = [x, y, x + w, y, x + w, y + h, x, y + h]
            lines.append(" ".join(str(v) for v in quad) + f" {label} 0")
        image_dir, label_dir = root / "train" / "images", root / "train" / "labelTxt"
        image_dir.mkdir(parents=True, exist_ok=True)
        label_dir.mkdir(parents=True, exist_ok=True)
        img.save(image_dir / f"P{i:04d}.png")
        (label_dir / f"P{i:04d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def built_shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A shard folder built by ``mgrs_builder.build.build_dataset`` from a generated DOTA tree
    (12 images of 96 px tiled at 48 px: 48 tiles with objects, short and long captions)."""
    from mgrs_builder.build import build_dataset

    root = tmp_path_factory.mktemp("model_shards")
    source = make_dota_tree(root / "dota")
    out = root / "built"
    build_dataset(out, {"dota": source}, tile_size=48, overlap=0, progress=False)
    return out


def make_row(
    key: str, index: int, size: int = 16, n_objects: int = 2, rng: np.random.Generator | None = None
) -> dict[str, Any]:
    """One schema-conformant shard row with a tiny PNG and ``n_objects`` boxes."""
    rng = rng or np.random.default_rng(index)
    pixels = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
    import io

    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, format="PNG")
    objects = []
    for j in range(n_objects):
        x1, y1 = float(rng.integers(0, size // 2)), float(rng.integers(0, size // 2))
        objects.append(
            {
                "bbox": [x1, y1, x1 + size / 2, y1 + size / 2],
                "polygon": [x1, y1, x1 + size / 2, y1, x1 + size / 2, y1 + size / 2],
                "category": f"cat{j}",
                "category_id": j,
                "parent_category": None,
                "source_category": f"cat{j}",
                "truncated": False,
                "difficult": False,
                "visible_fraction": 1.0,
            }
        )
    return {
        "key": key,
        "source": "test",
        "source_image_id": str(index),
        "split": "train",
        "image": {"bytes": buf.getvalue(), "path": None},
        "width": size,
        "height": size,
        "window": [0, 0, size, size],
        "gsd": None,
        "objects": objects,
        "caption_short": f"short caption {index}",
        "caption_long": f"a long caption for record {index}",
        "caption_backend": "template-v1",
        "caption_model": None,
    }


def write_raw_shards(
    out: Path, sizes: list[int], *, split: str = "train", version: str | None = None, row_group_rows: int = 4
) -> list[str]:
    """Write ``out/data/{split}-i-of-n.parquet`` with the given row counts; returns all keys.

    ``version`` replaces the schema version in the metadata (to test mismatches).
    """
    schema = arrow_schema()
    if version is not None:
        meta = dict(schema.metadata)
        meta[b"mgrs_schema_version"] = version.encode()
        schema = schema.with_metadata(meta)
    (out / "data").mkdir(parents=True, exist_ok=True)
    keys, index = [], 0
    for i, n in enumerate(sizes):
        rows = []
        for _ in range(n):
            rows.append(make_row(f"rec{index:04d}", index))
            keys.append(f"rec{index:04d}")
            index += 1
        table = pa.Table.from_pylist(rows, schema=schema)
        name = f"{split}-{i:05d}-of-{len(sizes):05d}.parquet"
        pq.write_table(table, out / "data" / name, row_group_size=row_group_rows)
    return keys
