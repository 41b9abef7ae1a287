"""Draw one record: the tile, its boxes and polygons with category names, and both captions."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
from PIL import Image, ImageDraw

from .errors import MgrsBuilderError
from .shards import list_shards, read_manifest

_COLOURS = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
            (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212)]


def find_record(dataset_dir: Path | str, key: str) -> dict[str, Any]:
    """The row with ``key``.

    Raises:
        MgrsBuilderError: no such key (the message names the folder).
    """
    for split in sorted(read_manifest(dataset_dir)["splits"]):
        for shard in list_shards(dataset_dir, split):
            table = pq.read_table(shard, filters=pc.field("key") == key)
            if table.num_rows:
                return table.to_pylist()[0]
    raise MgrsBuilderError(f"{dataset_dir}: no record with key {key!r}")


def render_record(row: dict[str, Any], scale: int = 0) -> Image.Image:
    """The drawn record. ``scale`` 0 picks an integer upscale so that small tiles stay legible."""
    tile = Image.open(io.BytesIO(row["image"]["bytes"])).convert("RGB")
    s = scale or max(1, 512 // max(tile.size))
    tile = tile.resize((tile.width * s, tile.height * s), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(tile)
    for obj in row["objects"] or ():
        colour = _COLOURS[int(obj["category_id"]) % len(_COLOURS)]
        poly = [v * s for v in obj["polygon"] or ()]
        if len(poly) >= 6:
            draw.polygon(poly, outline=colour)
        x1, y1, x2, y2 = (v * s for v in obj["bbox"])
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=1 if obj["truncated"] else 2)
        draw.text((x1 + 2, y1 + 1), obj["category"], fill=colour)
    text = [row["key"], f"short: {row['caption_short']}", f"long: {row['caption_long']}",
            f"captions by {row['caption_backend']}" + (f" ({row['caption_model']})" if row["caption_model"] else "")]
    wrap = max(30, tile.width // 7)
    lines = [ln for t in text for ln in textwrap.wrap(t, wrap)]
    canvas = Image.new("RGB", (tile.width, tile.height + 14 * len(lines) + 8), "white")
    canvas.paste(tile, (0, 0))
    d = ImageDraw.Draw(canvas)
    for i, ln in enumerate(lines):
        d.text((4, tile.height + 4 + 14 * i), ln, fill="black")
    return canvas


def show_record(dataset_dir: Path | str, key: str, out_png: Path | str) -> Path:
    """Find ``key`` in the folder and write its drawing to ``out_png``."""
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    render_record(find_record(dataset_dir, key)).save(out, format="PNG")
    return out
