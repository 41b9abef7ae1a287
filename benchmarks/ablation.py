"""FarSLIP ablation on the synthetic world (issue 5 item 3). Not a test: run it by hand.

Every arm starts from the same from-scratch tiny base model of its seed and gets the same number of
optimizer steps; three seeds give mean and spread. Arms:

- ``global_only``: global contrastive fine-tuning only (the plain baseline), on the caption corpus;
- ``s1_patch2patch``: stage 1, global + patch-to-patch self-distillation (``roi2pooled``);
- ``s1_patch2cls``: stage 1, global + patch-to-CLS distillation (``roi2cls``, CLIPSelf/FineCLIP style);
- ``s2_crop_cls``: stage 2, global + multi-positive region-category loss on crop CLS features;
- ``s2_roi_pooled``: stage 2 with RoI-pooled region features of the global dense map instead;
- ``s2_single_positive``: stage 2 crop CLS with single-positive InfoNCE instead of multi-positive;
- ``s1_patch2patch_wd1`` / ``s1_patch2cls_wd1`` (diagnostics): the two stage-1 arms with the distillation
  weight raised from the reference 0.1 to 1.0, to see whether the small budget hides their difference.

Stage-2 arms use the demo's stage-2 settings (short captions, lr 1e-4; see ``farslip_eval.demo``).

    uv run python benchmarks/ablation.py --out runs/ablation            # full: large world, 3 seeds
    uv run python benchmarks/ablation.py --out runs/ablation_quick --quick
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import logging
import statistics
import sys
import time
from pathlib import Path

import torch

from farslip_eval.demo import DEMO_OVERRIDES, evaluate, train_stage
from mgrs_builder.build import build_dataset
from mgrs_builder.synthetic import generate_world

log = logging.getLogger("ablation")

# arm -> (preset stage, data kind, dotted overrides)
ARMS: dict[str, tuple[str, str, list[str]]] = {
    "global_only": ("stage1", "captions", ["loss.w_distill=0.0", "data.max_boxes=0"]),
    "s1_patch2patch": ("stage1", "captions", ["loss.distill_align=roi2pooled"]),
    "s1_patch2cls": ("stage1", "captions", ["loss.distill_align=roi2cls"]),
    "s2_crop_cls": ("stage2", "shards", [*DEMO_OVERRIDES["stage2"], "loss.region_feature=crop_cls",
                                         "loss.region_loss=multi_positive"]),
    "s2_roi_pooled": ("stage2", "shards", [*DEMO_OVERRIDES["stage2"], "loss.region_feature=roi_pooled",
                                           "loss.region_loss=multi_positive"]),
    "s2_single_positive": ("stage2", "shards", [*DEMO_OVERRIDES["stage2"], "loss.region_feature=crop_cls",
                                                "loss.region_loss=single_positive"]),
    "s1_patch2patch_wd1": ("stage1", "captions", ["loss.distill_align=roi2pooled", "loss.w_distill=1.0"]),
    "s1_patch2cls_wd1": ("stage1", "captions", ["loss.distill_align=roi2cls", "loss.w_distill=1.0"]),
}
COLUMNS = {  # column -> (suite, dataset or None for the mean over the suite's datasets, metric)
    "OVSS landcover mIoU": ("ovss", "synth_landcover", "mIoU"),
    "OVSS objects mIoU": ("ovss", "synth_objects", "mIoU"),
    "zero-shot top-1": ("zeroshot", None, "top1"),
    "retrieval mean recall": ("retrieval", None, "mean_recall"),
}


def headline(rows: list[dict]) -> dict[str, float]:
    """The table's columns from one model's result dicts (suite means where no dataset is named)."""
    out = {}
    for col, (suite, dataset, metric) in COLUMNS.items():
        vals = [r["metrics"][metric] for r in rows if r["suite"] == suite and dataset in (None, r["dataset"])]
        if vals:
            out[col] = sum(vals) / len(vals)
    return out


def table(per_arm: dict[str, list[dict[str, float]]]) -> str:
    """Markdown table of mean ± sample standard deviation over seeds, one row per arm."""
    head = "| arm | " + " | ".join(COLUMNS) + " |"
    lines = [head, "|---|" + "---:|" * len(COLUMNS)]
    for arm, seeds in per_arm.items():
        cells = []
        for col in COLUMNS:
            vals = [s[col] for s in seeds if col in s]
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            cells.append(f"{statistics.mean(vals):.1f} ± {sd:.1f}" if vals else "-")
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_seed(job: tuple) -> dict[str, dict[str, float]]:
    """Base model of one seed, then every arm from it; returns each arm's headline numbers."""
    seed, run, world, data, arms, base_steps, base_batch, steps, batch, threads = job
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    torch.set_num_threads(max(1, threads))
    base = train_stage("base", *data["captions"], run / "base", base_steps, seed, None, base_batch, [])
    rows, _ = evaluate("base", base, world / "eval", run / "results")
    out = {"base": headline(rows)}
    for arm in arms:
        stage, kind, overrides = ARMS[arm]
        ckpt = train_stage(stage, *data[kind], run / arm, steps, seed, base, batch, overrides)
        rows, _ = evaluate(arm, ckpt, world / "eval", run / "results")
        out[arm] = headline(rows)
        log.info("seed %d %s: %s", seed, arm, out[arm])
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("runs/ablation"))
    p.add_argument("--preset", default="large", help="world preset (default large)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--base-steps", type=int, default=2000)
    p.add_argument("--steps", type=int, default=300, help="steps per arm (the same for every arm)")
    p.add_argument("--base-batch", type=int, default=64)
    p.add_argument("--batch", type=int, default=32, help="batch size of every arm")
    p.add_argument("--arms", nargs="+", choices=sorted(ARMS), default=list(ARMS))
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per seed process")
    p.add_argument("--jobs", type=int, default=1, help="seeds trained in parallel processes")
    p.add_argument("--quick", action="store_true", help="tiny world, 1 seed, a few steps: a smoke run")
    args = p.parse_args(argv)
    if args.quick:
        args.preset, args.seeds, args.base_steps, args.steps = "tiny", args.seeds[:1], 10, 4
        args.base_batch, args.batch = 8, 4
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    torch.set_num_threads(max(1, args.threads))
    out = args.out.resolve()
    world = out / "world"
    if not (world / "world.json").is_file():
        generate_world(world, args.preset, seed=1000)  # one world for every seed: seeds vary the training
    meta = json.loads((world / "world.json").read_text())
    shards = out / "shards"
    if not (shards / "manifest.json").is_file():
        build_dataset(shards, {n: world / v for n, v in meta["sources"].items()}, tile_size=128, overlap=32)
    data = {"captions": ("webdataset", world / "captions"), "shards": ("parquet", shards)}
    per_arm: dict[str, list[dict[str, float]]] = {"base": []}
    per_arm.update({a: [] for a in args.arms})
    t0 = time.perf_counter()
    jobs = [(seed, out / f"seed{seed}", world, data, args.arms, args.base_steps, args.base_batch, args.steps,
             args.batch, args.threads) for seed in args.seeds]
    if args.jobs > 1:
        ctx = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(args.jobs, mp_context=ctx) as pool:
            per_seed = list(pool.map(run_seed, jobs))
    else:
        per_seed = [run_seed(job) for job in jobs]
    for seed_rows in per_seed:
        for arm, row in seed_rows.items():
            per_arm[arm].append(row)
    text = table(per_arm)
    result = {"preset": args.preset, "seeds": args.seeds, "base_steps": args.base_steps,
              "steps_per_arm": args.steps, "base_batch": args.base_batch, "batch": args.batch,
              "arms": {a: ARMS[a][2] for a in args.arms}, "jobs": args.jobs, "per_seed": per_arm, "table": text,
              "wall_s": time.perf_counter() - t0}
    (out / "ablation.json").write_text(json.dumps(result, indent=2) + "\n")
    print(text)
    print(f"\nwritten: {out / 'ablation.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
