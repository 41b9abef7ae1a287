"""Per-category counts of a built folder, as Markdown and as a PNG bar chart."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .shards import iter_rows, read_manifest


@dataclass
class DatasetStats:
    """Counts gathered from the shards themselves (not trusted from the manifest)."""

    rows: int = 0
    objects: int = 0
    by_category: Counter[str] = field(default_factory=Counter)
    by_source: Counter[str] = field(default_factory=Counter)
    by_split: Counter[str] = field(default_factory=Counter)
    category_ids: dict[str, int] = field(default_factory=dict)


def compute_stats(dataset_dir: Path | str) -> DatasetStats:
    """Count tiles per source/split and objects per category."""
    manifest = read_manifest(dataset_dir)
    st = DatasetStats(category_ids={c["name"]: int(c["id"]) for c in manifest.get("categories", [])})
    for row in iter_rows(dataset_dir, columns=["source", "split", "objects"]):
        st.rows += 1
        st.by_source[row["source"]] += 1
        st.by_split[row["split"]] += 1
        for obj in row["objects"] or ():
            st.objects += 1
            st.by_category[obj["category"]] += 1
    return st


def stats_markdown(st: DatasetStats) -> str:
    """Markdown tables: tiles per source and split, then objects per category (most frequent first)."""
    lines = [f"**{st.rows} tiles, {st.objects} objects**", "", "| source | tiles |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in sorted(st.by_source.items())]
    lines += ["", "| split | tiles |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in sorted(st.by_split.items())]
    lines += ["", "| id | category | objects | share |", "|---|---|---|---|"]
    for name, n in sorted(st.by_category.items(), key=lambda kv: (-kv[1], kv[0])):
        share = 100.0 * n / st.objects if st.objects else 0.0
        lines.append(f"| {st.category_ids.get(name, '')} | {name} | {n} | {share:.1f}% |")
    return "\n".join(lines) + "\n"


def plot_category_counts(st: DatasetStats, out_png: Path | str) -> Path:
    """Horizontal bar chart of objects per category (Agg backend, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = sorted(st.by_category.items(), key=lambda kv: (kv[1], kv[0]))
    fig, ax = plt.subplots(figsize=(7, max(2.0, 0.3 * len(items) + 1)))
    ax.barh([k for k, _ in items], [v for _, v in items], color="#4c72b0")
    ax.set_xlabel("objects")
    ax.set_title(f"Objects per category ({st.objects} in {st.rows} tiles)")
    fig.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
