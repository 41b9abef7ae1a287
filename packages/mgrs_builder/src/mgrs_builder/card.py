"""The Hub dataset card: the template (``templates/mgrs_card.md``, mirrored as ``data_cards/mgrs.md``)
filled with a build's real counts, licences per source and ``configs``/``data_files`` per split."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from .schema import FIELDS


@dataclass(frozen=True)
class SourceLicence:
    """What a source states about its terms. ``verified`` is False where only secondary sources say so."""

    licence: str
    url: str
    verified: bool = False


#: Per reader name. Check the source's own page before publishing: these terms are not ours to change.
SOURCE_LICENCES: dict[str, SourceLicence] = {
    "dota": SourceLicence("academic use only (DOTA terms; Google Earth, GF-2 and JL-1 imagery)",
                          "https://captain-whu.github.io/DOTA/dataset.html"),
    "dior": SourceLicence("academic use (no explicit licence stated)", "https://arxiv.org/abs/1909.00133"),
    "fair1m": SourceLicence("research use only (Gaofen challenge terms)",
                            "https://www.gaofen-challenge.com/"),
    "isaid": SourceLicence("annotations: iSAID terms (academic use); images: DOTA terms",
                           "https://captain-whu.github.io/iSAID/"),
    "xview": SourceLicence("CC BY-NC-SA 4.0", "https://xviewdataset.org/", True),
    "nwpu_vhr10": SourceLicence("research use only (no explicit licence stated)",
                                "https://doi.org/10.1016/j.isprsjprs.2014.10.002"),
    "hrsc2016": SourceLicence("research use only (no explicit licence stated)",
                              "https://www.kaggle.com/datasets/guofeng/hrsc2016"),
    "loveda": SourceLicence("CC BY-NC-SA 4.0", "https://github.com/Junjue-Wang/LoveDA", True),
    "potsdam": SourceLicence("ISPRS benchmark terms (research use, no redistribution of the data)",
                             "https://www.isprs.org/education/benchmarks/UrbanSemLab/"),
    "vaihingen": SourceLicence("ISPRS benchmark terms (research use, no redistribution of the data)",
                               "https://www.isprs.org/education/benchmarks/UrbanSemLab/"),
    "mgrs200k": SourceLicence("terms of the ZhenShiL/MGRS-200k dataset card",
                              "https://huggingface.co/datasets/ZhenShiL/MGRS-200k"),
}
_UNKNOWN = SourceLicence("unknown: check the source before publishing", "")

_FIELD_DOCS = {
    "key": "stable id: `{source}__{image_id}__{x0}_{y0}_{x1}_{y1}`",
    "source": "source dataset name as given to `mgrs build`",
    "source_image_id": "image id in the source",
    "split": "the source's split",
    "image": "tile pixels (`bytes`) and a file name (`path`)",
    "width": "tile width in pixels",
    "height": "tile height in pixels",
    "window": "x0, y0, x1, y1 of the tile in the source image",
    "gsd": "metres per pixel, when the source states it",
    "objects": "bbox (x1, y1, x2, y2), polygon (flat x, y), category, category_id, parent_category, "
               "source_category, truncated, difficult, visible_fraction; all in tile pixels",
    "caption_short": "one-sentence caption",
    "caption_long": "longer caption",
    "caption_backend": "`template-v1`, `hf` or `imported`",
    "caption_model": "model id for model-written captions",
}


def template_text() -> str:
    """The packaged card template."""
    return resources.files("mgrs_builder").joinpath("templates/mgrs_card.md").read_text(encoding="utf-8")


def licence_for(reader: str) -> SourceLicence:
    """Licence entry of a reader name (``NAME:label`` allowed)."""
    return SOURCE_LICENCES.get(reader.split(":", 1)[0], _UNKNOWN)


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                         (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if n < limit:
            return label
    return "10M<n<100M"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_card(manifest: Mapping[str, Any], report: Mapping[str, Any] | None = None,
                pretty_name: str = "MGRS (regenerated)") -> str:
    """The card for a built folder, from its manifest and (optionally) its build report."""
    counts = manifest["counts"]
    sources: Mapping[str, Any] = manifest.get("sources") or {n: {"reader": n} for n in counts["by_source"]}
    splits = manifest["splits"]
    lic_yaml, lic_rows = [], []
    for name in sources:
        reader = str(sources[name].get("reader", name))
        lic = licence_for(reader)
        lic_yaml.append(f"- source: {_q(name)}\n  license: {_q(lic.licence)}\n  url: {_q(lic.url)}")
        lic_rows.append([name, lic.licence + ("" if lic.verified else " (unverified)"),
                         f"<{lic.url}>" if lic.url else ""])
    data_files = "\n".join(f"  - split: {s}\n    path: data/{s}-*.parquet" for s in sorted(splits))
    src_reports = (report or {}).get("sources", {})
    count_rows = []
    for name in sources:
        r = src_reports.get(name, {})
        count_rows.append([name, str(r.get("images_in", "")), str(counts["by_source"].get(name, 0)),
                           str(r.get("objects_in", "")), str(r.get("objects_kept", "")),
                           str(r.get("objects_dropped_by_tiling", "")),
                           str(sum(r.get("objects_filtered", {}).values())) if r else "",
                           str(sum(r.get("objects_rejected", {}).values())) if r else ""])
    cat_ids = {c["name"]: c["id"] for c in manifest.get("categories", [])}
    cat_rows = [[str(cat_ids.get(name, "")), name, str(n)]
                for name, n in sorted(counts["by_category"].items(), key=lambda kv: (-kv[1], kv[0]))]
    field_rows = [[f"`{f.name}`", f"`{f.type}`".replace("|", "/"), _FIELD_DOCS.get(f.name, "")] for f in FIELDS]
    cfg = (report or {}).get("config", {})
    build = (f"Tiles of {cfg.get('tile_size')} px with {cfg.get('overlap')} px overlap; objects cut by a "
             f"tile border kept when at least {cfg.get('min_visible')} of their area is inside; captions by "
             f"`{cfg.get('captioner')}`; bad records: `{cfg.get('on_bad_record')}`.") if cfg else \
        "Imported or assembled without a build configuration."
    filtered: dict[str, int] = {}
    for r in src_reports.values():
        for k, v in r.get("objects_filtered", {}).items():
            filtered[k] = filtered.get(k, 0) + v
    leak = ", ".join(f"{k}: {v} objects" for k, v in sorted(filtered.items())) or "nothing dropped"
    values = {
        "pretty_name": pretty_name,
        "size_category": _size_category(int(counts["rows"])),
        "source_licenses_yaml": "\n".join(lic_yaml) or "[]",
        "data_files_yaml": data_files,
        "builder_version": str(manifest.get("builder_version", "")),
        "schema_version": str(manifest.get("schema_version", "")),
        "licence_table": _table(["source", "licence", "link"], lic_rows),
        "counts_table": _table(["source", "images", "tiles", "objects in", "kept", "dropped by tiling",
                                "filtered", "rejected"], count_rows),
        "split_counts": ", ".join(f"{s}: {v['rows']} tiles" for s, v in sorted(splits.items())),
        "object_count": str(counts.get("objects", 0)),
        "category_table": _table(["id", "category", "objects"], cat_rows) if cat_rows else "(no objects)",
        "fields_table": _table(["field", "type", "meaning"], field_rows),
        "build_summary": build,
        "leakage_summary": leak,
    }
    text = template_text()
    missing = set(re.findall(r"{{(\w+)}}", text)) - set(values)
    if missing:
        raise KeyError(f"card template placeholders without values: {sorted(missing)}")
    return re.sub(r"{{(\w+)}}", lambda m: values[m.group(1)], text)
