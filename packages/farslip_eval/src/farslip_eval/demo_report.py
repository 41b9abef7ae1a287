"""The demo's report: results table with chance levels, loss plots, OVSS prediction panels, summary.md."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

# (suite, metric) columns of the summary table.
HEADLINE = {"ovss": "mIoU", "zeroshot": "top1", "retrieval": "mean_recall"}


def ovss_chance(label_paths: Sequence[Path], num_classes: int, ignore_index: int = 255) -> float:
    """Expected mIoU (%) of a uniformly random per-pixel prediction, given the ground-truth class shares.

    For class c with share p_c among valid pixels and K classes: IoU_c = (p_c/K) / (p_c + 1/K - p_c/K).
    Classes absent from the ground truth are left out of the mean, like mmseg's nan-mean.
    """
    hist = np.zeros(num_classes, np.float64)
    for path in label_paths:
        lab = np.asarray(Image.open(path)).ravel()
        lab = lab[lab != ignore_index]
        hist += np.bincount(lab, minlength=num_classes)[:num_classes]
    p = hist / max(hist.sum(), 1.0)
    k = float(num_classes)
    present = p > 0
    iou = (p / k) / (p + 1 / k - p / k)
    return float(100.0 * iou[present].mean())


def retrieval_chance(num_images: int, captions_per_image: int, ks: Sequence[int] = (1, 5, 10)) -> float:
    """Expected mean recall (%) of a random ranking (both directions, mean over ``ks``)."""
    n_txt = num_images * captions_per_image
    t2i = [min(k / num_images, 1.0) for k in ks]
    i2t = []
    for k in ks:
        if k >= n_txt - captions_per_image + 1:
            i2t.append(1.0)
        else:  # 1 - P(no correct caption among the top k)
            i2t.append(1.0 - math.comb(n_txt - captions_per_image, k) / math.comb(n_txt, k))
    return 100.0 * (sum(t2i) + sum(i2t)) / (2 * len(ks))


def chance_levels(eval_root: Path) -> dict[str, float]:
    """Chance level of each synthetic dataset's headline metric, keyed by dataset name."""
    out: dict[str, float] = {}
    for desc_path in sorted(Path(eval_root).glob("*/farslip_dataset.json")):
        desc = json.loads(desc_path.read_text())
        root = desc_path.parent
        if desc["suite"] == "ovss":
            classes = (root / desc["class_file"]).read_text().split("\n")
            labels = sorted((root / desc["ann_dir"]).glob(f"*{desc['seg_map_suffix']}"))
            out[desc["name"]] = ovss_chance(labels, len(classes), desc.get("ignore_index", 255))
        elif desc["suite"] == "zeroshot":
            classes = [d for d in (root / desc["image_dir"]).iterdir() if d.is_dir()]
            out[desc["name"]] = 100.0 / max(len(classes), 1)
        elif desc["suite"] == "retrieval" and desc.get("layout") == "karpathy":
            doc = json.loads((root / desc["json"]).read_text())
            imgs = [i for i in doc["images"] if i.get("split") == desc.get("split", "test")]
            per = round(sum(len(i["sentences"]) for i in imgs) / max(len(imgs), 1))
            out[desc["name"]] = retrieval_chance(len(imgs), per)
    return out


def results_table(results: Mapping[str, Sequence[Mapping[str, Any]]], chance: Mapping[str, float]) -> str:
    """Markdown table: one row per model, one column per dataset's headline metric, plus a chance row."""
    columns: list[tuple[str, str]] = []
    for rows in results.values():
        for r in rows:
            col = (r["suite"], r["dataset"])
            if col not in columns:
                columns.append(col)
    columns.sort()
    head = "| model | " + " | ".join(f"{d} {HEADLINE[s]}" for s, d in columns) + " |"
    sep = "|---|" + "---:|" * len(columns)
    lines = [head, sep]
    for model, rows in results.items():
        by = {(r["suite"], r["dataset"]): r["metrics"].get(HEADLINE[r["suite"]]) for r in rows}
        cells = [f"{by[c]:.1f}" if by.get(c) is not None else "-" for c in columns]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    chance_cells = [f"{chance[d]:.1f}" if d in chance else "-" for _, d in columns]
    lines.append("| *chance* | " + " | ".join(chance_cells) + " |")
    return "\n".join(lines)


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_losses(runs: Mapping[str, Path], out_png: Path) -> Path | None:
    """One panel per run: every loss term of its metrics.jsonl against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {name: read_metrics(d) for name, d in runs.items()}
    series = {k: v for k, v in series.items() if v}
    if not series:
        return None
    fig, axes = plt.subplots(1, len(series), figsize=(4.5 * len(series), 3.2), squeeze=False)
    for ax, (name, rows) in zip(axes[0], series.items()):
        keys = [k for k in rows[0] if k == "loss" or k.startswith("loss_") or k.endswith("_loss")]
        steps = [r["step"] for r in rows]
        for k in keys:
            ax.plot(steps, [r.get(k, float("nan")) for r in rows], label=k)
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    fig.tight_layout()
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=90)
    plt.close(fig)
    return out_png


def _colourise(label: np.ndarray, num_classes: int) -> np.ndarray:
    """Class ids to RGB with ``farslip_eval.show``'s palette (ignored pixels black)."""
    from farslip_eval.show import class_colours, colourise

    return colourise(label, class_colours(num_classes))


def _legend(names: Sequence[str], out_png: Path) -> Path:
    """A colour key for the class ids (first synonym of each class)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from farslip_eval.show import class_colours

    colours = class_colours(len(names)) / 255.0
    fig = plt.figure(figsize=(8, 0.3 + 0.25 * -(-len(names) // 4)))
    fig.legend(handles=[Patch(color=c, label=n) for c, n in zip(colours, names)], loc="center", ncol=4,
               frameon=False, fontsize=8)
    fig.savefig(out_png, dpi=90)
    plt.close(fig)
    return out_png


def prediction_panels(encoders: Mapping[str, Any], eval_root: Path, dataset: str, out_dir: Path,
                      count: int = 3) -> list[Path]:
    """A legend PNG, then rows of image | ground truth | one prediction per model for ``count`` images.

    Colours follow ``farslip-eval show`` (tab20 in class order); ignored pixels (255) are black.
    """
    from farslip_eval.ovss.data import OvssDataset
    from farslip_eval.ovss.inference import OvssPredictor
    from farslip_eval.registry import discover

    found = [d for d in discover(eval_root, "ovss", [dataset]).found]
    if not found:
        return []
    spec = found[0].entry.spec
    data = OvssDataset(spec)
    predictors = {name: OvssPredictor(enc, spec) for name, enc in encoders.items()}
    names = [c[0] for c in spec.class_names()]
    k = len(names)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [_legend(names, out_dir / f"{dataset}_legend.png")]
    for i in range(min(count, len(data))):
        sample = data.load(i)
        if sample is None:
            continue
        tiles = [sample.image, _colourise(sample.label, k)]
        for predictor in predictors.values():
            tiles.append(_colourise(predictor.predict(sample.image).cpu().numpy().astype(np.int64), k))
        path = out_dir / f"{dataset}_{sample.name}.png"
        row = Image.fromarray(np.concatenate(tiles, axis=1))
        row.resize((row.width * 2, row.height * 2), Image.Resampling.NEAREST).save(path)
        paths.append(path)
    return paths


def write_summary(out_dir: Path, table: str, timings: Mapping[str, float], plots: Sequence[Path],
                  panels: Mapping[str, Sequence[Path]], models: Sequence[str],
                  notes: Sequence[str] = ()) -> Path:
    """Write ``summary.md`` into the report folder."""
    lines = ["# FarSLIP demo report", "", "## Results", "",
             "Headline metric per dataset (%): OVSS mIoU, zero-shot top-1, retrieval mean recall "
             "(mean of R@1/5/10 over both directions). *chance* is a random guesser's expected value.", "",
             table, "", "## Wall time per step", "", "| step | seconds |", "|---|---:|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in timings.items()]
    lines += ["", "## Training losses", ""] + [f"![losses]({p.name})" for p in plots]
    for dataset, paths in panels.items():
        lines += ["", f"## OVSS predictions: {dataset}", "",
                  "Each row: image | ground truth | " + " | ".join(models), ""]
        lines += [f"![{p.stem}](predictions/{p.name})" for p in paths]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    path = out_dir / "summary.md"
    path.write_text("\n".join(lines) + "\n")
    return path
