"""``farslip-eval``: list datasets, run the suites, tabulate results beside the paper, show OVSS maps.

Commands::

    farslip-eval list [--data-root DIR] [--suite S] [--json]
    farslip-eval run --suite ovss|zeroshot|retrieval|all --data-root DIR --model ARCH
                     --pretrained TAG|PATH|none [--dataset NAME ...] [--out DIR] [--device cpu|cuda]
                     [--batch-size N] [--bg-threshold spec|off] [--protocol farslip|clip_benchmark] ...
    farslip-eval table DIR [--out DIR]
    farslip-eval show ...            (see ``farslip-eval show --help``)

Exit codes: 0 success; 1 at least one dataset failed; 2 bad usage or input (unknown dataset, bad
descriptor, missing data root, model that cannot be loaded); 3 nothing to evaluate (every selected
dataset is missing under the data root).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOTHING = 0, 1, 2, 3
SUITE_CHOICES = ("ovss", "zeroshot", "retrieval", "all")
log = logging.getLogger("farslip_eval.cli")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="farslip-eval", description=__doc__.split("\n\n")[0],
                                epilog="exit codes: 0 ok, 1 a dataset failed, 2 usage/input error, "
                                       "3 nothing found to evaluate",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = p.add_subparsers(dest="command", required=True)

    ls = sub.add_parser("list", help="suites and datasets, and which are found under a data root")
    ls.add_argument("--data-root", type=Path, help="report which datasets are present here")
    ls.add_argument("--suite", choices=SUITE_CHOICES, default="all")
    ls.add_argument("--json", action="store_true", help="machine-readable output")

    run = sub.add_parser("run", help="evaluate a model on the datasets of a suite")
    run.add_argument("--suite", choices=SUITE_CHOICES, required=True)
    run.add_argument("--dataset", action="append", metavar="NAME", help="only these datasets (repeatable)")
    run.add_argument("--data-root", type=Path, required=True)
    run.add_argument("--model", required=True, help="open_clip architecture (e.g. ViT-B-16) or farslip:PATH")
    run.add_argument("--pretrained", help="open_clip tag, checkpoint file, or 'none' (random init)")
    run.add_argument("--out", type=Path, default=Path("results"), help="results folder (default ./results)")
    run.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    run.add_argument("--batch-size", type=int, default=32)
    run.add_argument("--bg-threshold", choices=("spec", "off"), default="spec",
                     help="OVSS: per-dataset probability threshold and background index "
                          "('off' matches the paper)")
    run.add_argument("--protocol", choices=("farslip", "clip_benchmark"), default="farslip",
                     help="retrieval/zero-shot protocol (default: FarSLIP's published one)")
    run.add_argument("--templates", help="zero-shot template set: skyscript (default) or imagenet80")
    run.add_argument("--global-bias", type=float, default=None, metavar="LAMBDA",
                     help="OVSS: add LAMBDA x the CLS-text logits to every pixel, SegEarth-OV's cls_token_lambda sign "
                          "convention: SegEarth-OV uses -0.3, which subtracts the global bias (off by default)")
    run.add_argument("--on-bad", choices=("error", "skip"), default="error",
                     help="OVSS: bad image/label files stop the dataset (error) or are counted and skipped")
    run.add_argument("--workers", type=int, default=0, help="DataLoader workers")
    run.add_argument("--fail-fast", action="store_true", help="stop at the first failing dataset")

    tab = sub.add_parser("table", help="Markdown + CSV of results beside the paper's numbers")
    tab.add_argument("dir", type=Path, help="results folder written by 'run'")
    tab.add_argument("--out", type=Path, help="where to write table.md/table.csv (default: DIR)")

    show = sub.add_parser("show", help="PNG of an image, its ground truth and the predicted OVSS map",
                          add_help=False)
    show.add_argument("show_args", nargs=argparse.REMAINDER)
    return p


def _setup_logging(args: argparse.Namespace) -> None:
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def _progress() -> bool:
    return sys.stderr.isatty()


def _cmd_list(args: argparse.Namespace) -> int:
    from farslip_eval.dataset_errors import DatasetError
    from farslip_eval.registry import all_entries, discover

    if args.data_root is not None and not args.data_root.is_dir():
        print(f"error: data root {args.data_root} is not a folder", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.data_root is not None:
            found = discover(args.data_root, args.suite)
            status = {d.entry.name: ("found", d.layout.layout, str(d.root)) for d in found.found}
            entries = [d.entry for d in found.found] + list(found.missing)
        else:
            status, entries = {}, all_entries(None, args.suite)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    rows = []
    order = ("ovss", "zeroshot", "retrieval")
    for e in sorted(entries, key=lambda e: (order.index(e.suite), e.custom, e.name)):
        st = status.get(e.name)
        rows.append({"suite": e.suite, "name": e.name, "custom": e.custom, "expected": e.layout_summary(),
                     "status": (st[0] if st else "missing") if args.data_root is not None else None,
                     "layout": st[1] if st else None, "path": st[2] if st else None,
                     "description": e.description})
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for suite in ("ovss", "zeroshot", "retrieval"):
        chosen = [r for r in rows if r["suite"] == suite]
        if not chosen:
            continue
        print(f"[{suite}]")
        for r in chosen:
            tag = f"{r['status']:<8}" if r["status"] else ""
            where = f"{r['path']} ({r['layout']})" if r["path"] else r["expected"]
            print(f"  {tag}{r['name']:<18}{' (custom)' if r['custom'] else ''}  {where}")
    if args.data_root is not None:
        n = sum(r["status"] == "found" for r in rows)
        print(f"{n} of {len(rows)} datasets found under {args.data_root}")
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    if not args.data_root.is_dir():
        print(f"error: data root {args.data_root} is not a folder", file=sys.stderr)
        return EXIT_USAGE
    if args.pretrained is None and not args.model.startswith("farslip:"):
        print("error: --pretrained is required (an open_clip tag, a checkpoint file, or 'none' for random "
              "weights)", file=sys.stderr)
        return EXIT_USAGE
    if args.batch_size < 1:
        print("error: --batch-size must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    from farslip_eval.dataset_errors import DatasetError, UnknownDatasetError
    from farslip_eval.registry import discover

    try:  # check names and descriptors before loading a model
        found = discover(args.data_root, args.suite, args.dataset)
    except (UnknownDatasetError, DatasetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for entry in found.missing:
        print(f"missing: {entry.suite}/{entry.name} (expected {entry.layout_summary()})", file=sys.stderr)
    if not found.found:
        print(f"nothing to evaluate: no {args.suite} dataset found under {args.data_root}", file=sys.stderr)
        return EXIT_NOTHING

    from farslip_eval.encoders import load_encoder
    from farslip_eval.suites import run_datasets

    try:
        encoder = load_encoder(args.model, args.pretrained, device=args.device)
    except Exception as exc:  # noqa: BLE001 - any load failure is a usage/input problem for the CLI
        print(f"error: cannot load model {args.model} ({args.pretrained}): {exc}", file=sys.stderr)
        return EXIT_USAGE
    options: dict[str, Any] = {
        "protocol": args.protocol, "bg_threshold": args.bg_threshold, "on_bad": args.on_bad,
        "on_error": "raise" if args.fail_fast else "skip", "progress": _progress(), "workers": args.workers,
    }
    if args.templates:
        options["templates"] = args.templates
    if args.global_bias is not None:
        options["global_bias"] = args.global_bias
    report = run_datasets(encoder, args.suite, args.data_root, [d.entry.name for d in found.found], args.out,
                          args.batch_size, args.device, **options)
    for result, path in zip(report.results, report.paths, strict=True):
        print(f"{result['suite']:<10}{result['dataset']:<18}{_headline(result)}  -> {path}")
    for name, reason in report.skipped:
        print(f"skipped: {name}: {reason}", file=sys.stderr)
    for name, error in report.failed:
        print(f"FAILED: {name}: {error}", file=sys.stderr)
    return EXIT_FAILED if report.failed else EXIT_OK


def _headline(result: dict[str, Any]) -> str:
    m = result["metrics"]
    keys = {"ovss": ("mIoU", "mAcc", "aAcc"), "zeroshot": ("top1", "top5", "mean_per_class_acc"),
            "retrieval": ("i2t_mean", "t2i_mean", "mean_recall")}[result["suite"]]
    return "  ".join(f"{k} {m[k]:.2f}" if isinstance(m.get(k), (int, float)) else f"{k} n/a" for k in keys)


def _cmd_table(args: argparse.Namespace) -> int:
    from farslip_eval.results import ResultFileError
    from farslip_eval.table import build_table

    try:
        md_path, csv_path, md = build_table(args.dir, args.out)
    except (FileNotFoundError, ResultFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(md)
    print(f"wrote {md_path} and {csv_path}", file=sys.stderr)
    return EXIT_OK


def _cmd_show(args: argparse.Namespace) -> int:
    """Hand every argument after ``show`` to :func:`farslip_eval.show.main` (its own parser)."""
    try:
        from farslip_eval import show
    except ImportError as exc:
        print(f"error: 'show' is unavailable ({exc})", file=sys.stderr)
        return EXIT_USAGE
    return int(show.main(args.show_args) or 0)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    lead = 0
    while lead < len(argv) and argv[lead] in ("-v", "--verbose", "-q", "--quiet"):
        lead += 1
    if lead < len(argv) and argv[lead] == "show":  # its options (even --help) belong to show's parser
        args = _parser().parse_args([*argv[:lead], "show"])
        args.show_args = argv[lead + 1:]
        _setup_logging(args)
        return _cmd_show(args)
    args = _parser().parse_args(argv)
    _setup_logging(args)
    handlers = {"list": _cmd_list, "run": _cmd_run, "table": _cmd_table, "show": _cmd_show}
    return handlers[args.command](args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
