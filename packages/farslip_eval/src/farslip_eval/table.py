"""Gather result JSONs into Markdown and CSV tables beside the paper's published numbers.

One table per suite. Columns are the paper's datasets (``paper_results.json``, shipped with the
package) followed by any other dataset that was run (custom datasets); paper rows are blank there.
Values: OVSS ``mIoU``; zero-shot ``top1``; retrieval ``i2t_mean``/``t2i_mean`` (mean of R@1/5/10
per direction, how FarSLIP's table reads). ``Mean`` is the unweighted mean of the paper's columns
and is shown only when all of them are present (otherwise ``k/n`` columns are named in ``note``).

Each of our rows is labelled by the model and, where it changes the numbers, the protocol: OVSS
``bg=spec|off`` (the published OVSS figures match ``bg=off``), retrieval/zero-shot ``protocol`` when
not ``farslip``, and the layout when a zero-shot set was not read from the SkyScript benchmark CSVs.

The CSV is long-form: ``suite,source,backbone,model,variant,column,value``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from farslip_eval.results import read_results

SUITE_ORDER: tuple[str, ...] = ("ovss", "zeroshot", "retrieval")
SUITE_TITLES = {"ovss": "OVSS mIoU (%)", "zeroshot": "Zero-shot classification top-1 (%)",
                "retrieval": "Retrieval, mean of R@1/5/10 per direction (%)"}


def load_paper_results() -> dict[str, Any]:
    """The published tables (farslip_reference.md section 5), as shipped with the package."""
    text = resources.files("farslip_eval").joinpath("paper_results.json").read_text(encoding="utf-8")
    return json.loads(text)


@dataclass
class Row:
    source: str  # "paper" or "ours"
    backbone: str
    model: str
    variant: str
    values: dict[str, float | None] = field(default_factory=dict)
    note: str = ""
    published_mean: float | None = None


@dataclass
class SuiteTable:
    suite: str
    columns: list[str]
    paper_columns: list[str]
    rows: list[Row]
    note: str

    def mean(self, row: Row) -> float | None:
        if row.published_mean is not None:  # the paper's own rounding
            return row.published_mean
        vals = [row.values.get(c) for c in self.paper_columns]
        if self.suite == "retrieval" or any(v is None for v in vals):
            return None
        return sum(vals) / len(vals)  # type: ignore[arg-type]


def _variant(result: Mapping[str, Any]) -> str:
    p = result.get("protocol", {})
    parts: list[str] = []
    if result["suite"] == "ovss":
        parts.append(f"bg={p.get('bg_threshold', '?')}")
        if p.get("cls_token_lambda"):
            parts.append(f"global_bias={p['cls_token_lambda']}")
    else:
        name = p.get("name", "farslip")
        if name != "farslip":
            parts.append(f"protocol={name}")
        from_bundle = p.get("layout") in (None, "skyscript_csv")
        if result["suite"] == "zeroshot" and not from_bundle and p.get("paper_key"):
            parts.append(f"layout={p['layout']}")
    return ", ".join(parts)


def _backbone(model: Mapping[str, Any]) -> str:
    arch = str(model.get("arch") or "")
    for key, label in (("B-32", "B/32"), ("B-16", "B/16"), ("L-14", "L/14"), ("B-14", "B/14")):
        if key in arch:
            return label
    return arch or "?"


def _cells(result: Mapping[str, Any]) -> dict[str, float | None]:
    key = result.get("protocol", {}).get("paper_key") or result["dataset"]
    m = result["metrics"]
    if result["suite"] == "ovss":
        return {key: m.get("mIoU")}
    if result["suite"] == "zeroshot":
        return {key: m.get("top1")}
    return {f"{key} I2T": m.get("i2t_mean"), f"{key} T2I": m.get("t2i_mean")}


def build_tables(results: Iterable[Mapping[str, Any]],
                 paper: Mapping[str, Any] | None = None) -> list[SuiteTable]:
    """Tables for every suite that has results (paper rows first, then ours, sorted by label)."""
    paper = paper or load_paper_results()
    grouped: dict[str, dict[tuple[str, str], Row]] = {}
    for r in results:
        label = (str(r["model"].get("slug") or r["model"].get("name")), _variant(r))
        rows = grouped.setdefault(r["suite"], {})
        row = rows.setdefault(label, Row("ours", _backbone(r["model"]), label[0], label[1]))
        row.values.update(_cells(r))
    tables: list[SuiteTable] = []
    for suite in SUITE_ORDER:
        if suite not in grouped:
            continue
        spec = paper["suites"][suite]
        paper_cols = list(spec["columns"])
        extra = sorted({c for row in grouped[suite].values() for c in row.values} - set(paper_cols))
        rows = [Row("paper", pr["backbone"], pr["method"] + ("*" if pr.get("in_domain") else ""), "published",
                    dict(pr["values"]), published_mean=pr.get("mean")) for pr in spec["rows"]]
        ours = sorted(grouped[suite].values(), key=lambda x: (x.model, x.variant))
        for row in ours:
            present = sum(row.values.get(c) is not None for c in paper_cols)
            if 0 < present < len(paper_cols):
                row.note = f"{present}/{len(paper_cols)} paper datasets"
        tables.append(SuiteTable(suite, paper_cols + extra, paper_cols, rows + ours, spec.get("note", "")))
    return tables


def _fmt(v: float | None) -> str:
    return "" if v is None else f"{v:.2f}"


def to_markdown(tables: list[SuiteTable]) -> str:
    out: list[str] = []
    for t in tables:
        out.append(f"## {SUITE_TITLES[t.suite]}\n")
        if t.note:
            out.append(f"Published protocol: {t.note}\n")
        mean = t.suite != "retrieval"
        head = ["Source", "Backbone", "Model", "Variant", *t.columns, *(["Mean"] if mean else []), "Note"]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "---|" * len(head))
        for row in t.rows:
            cells = [row.source, row.backbone, row.model, row.variant,
                     *(_fmt(row.values.get(c)) for c in t.columns)]
            if mean:
                cells.append(_fmt(t.mean(row)))
            cells.append(row.note)
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def write_csv(tables: list[SuiteTable], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["suite", "source", "backbone", "model", "variant", "column", "value"])
        for t in tables:
            for row in t.rows:
                for c in t.columns:
                    if row.values.get(c) is not None:
                        w.writerow([t.suite, row.source, row.backbone, row.model, row.variant, c,
                                    f"{row.values[c]:.4f}"])
                m = t.mean(row)
                if m is not None:
                    w.writerow([t.suite, row.source, row.backbone, row.model, row.variant, "Mean",
                                f"{m:.4f}"])


def build_table(results_dir: Path | str, out_dir: Path | str | None = None) -> tuple[Path, Path, str]:
    """Read every result JSON under ``results_dir``; write ``table.md`` and ``table.csv`` to ``out_dir``
    (default ``results_dir``); return both paths and the Markdown."""
    results = read_results(results_dir)
    if not results:
        raise FileNotFoundError(f"{results_dir}: no result JSON files found")
    tables = build_tables(results)
    out = Path(out_dir) if out_dir is not None else Path(results_dir)
    out.mkdir(parents=True, exist_ok=True)
    md = to_markdown(tables)
    md_path, csv_path = out / "table.md", out / "table.csv"
    md_path.write_text(md, encoding="utf-8")
    write_csv(tables, csv_path)
    return md_path, csv_path, md
