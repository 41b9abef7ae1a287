"""``mgrs``: the command line over the library (thin; every command is a library call).

Exit codes: 0 success, 1 validation faults, 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .errors import MgrsBuilderError

logger = logging.getLogger("mgrs_builder.cli")


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cmd_sources(args: argparse.Namespace) -> int:
    from .sources import list_readers

    for reader in list_readers():
        _out(f"{reader.name}\t{reader.format}\t{reader.task}")
    return 0


def _parse_mapping(items: list[str]) -> dict[tuple[str, str], str]:
    mapping: dict[tuple[str, str], str] = {}
    for item in items:
        lhs, sep, target = item.partition("=")
        source, colon, label = lhs.partition(":")
        if not sep or not colon or not source or not label or not target:
            raise MgrsBuilderError(f"--map {item!r}: expected SOURCE:LABEL=CANONICAL, e.g. dior:golffield=golf field")
        mapping[(source, label)] = target
    return mapping


def _cmd_build(args: argparse.Namespace) -> int:
    from .build import build_dataset, parse_source_spec
    from .leakage import LeakageConfig, load_id_list

    sources = dict(parse_source_spec(s) for s in args.sources)
    if len(sources) != len(args.sources):
        raise MgrsBuilderError("a source NAME is given twice; suffix one with a label, e.g. dota:v1=... dota:v2=...")
    id_lists: dict[str, frozenset[str]] = {}
    for path in args.leakage_ids:
        for k, v in load_id_list(Path(path)).items():
            id_lists[k] = id_lists.get(k, frozenset()) | v
    leakage = LeakageConfig(builtin_rules=not args.no_builtin_leakage, id_lists=id_lists,
                            benchmark_dirs=tuple(Path(p) for p in args.benchmark_dir),
                            hash_distance=args.hash_distance)
    vocabulary = None
    if args.map:
        from .categories import Vocabulary

        vocabulary = Vocabulary.default().with_mapping(_parse_mapping(args.map))
    cap_opts = {}
    if args.caption_prompt is not None:
        cap_opts["prompt_long"] = args.caption_prompt
    start = time.monotonic()
    report = build_dataset(
        Path(args.out), sources, tile_size=args.tile_size, overlap=args.overlap, captioner=args.captioner,
        on_bad_record=args.on_bad_record, workers=args.workers, leakage=leakage, vocabulary=vocabulary,
        progress=not args.quiet, min_visible=args.min_visible, max_shard_bytes=int(args.max_shard_mb * 2**20),
        keep_empty_tiles=not args.drop_empty_tiles, image_format=args.image_format,
        captioner_options=cap_opts or None,
    )
    _out(_table(report.summary_rows()))
    _out(f"\n{report.tiles_written} tiles in {args.out} ({time.monotonic() - start:.1f} s); "
         f"report: {Path(args.out) / 'build_report.json'}")
    if args.json:
        _out(json.dumps(report.to_dict(), indent=2))
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from .validate import validate_dataset

    res = validate_dataset(Path(args.dir), decode_images=not args.no_decode)
    for fault in res.faults:
        _out(f"FAULT {fault}")
    if res.faults_not_listed:
        _out(f"... and {res.faults_not_listed} more faults")
    if res.ok:
        _out(f"OK: {res.rows} rows, {res.objects} objects in {res.shards} shards")
        return 0
    _out(f"INVALID: {len(res.faults) + res.faults_not_listed} faults")
    return 1


def _cmd_stats(args: argparse.Namespace) -> int:
    from .stats import compute_stats, plot_category_counts, stats_markdown

    st = compute_stats(Path(args.dir))
    md = stats_markdown(st)
    _out(md)
    if args.markdown:
        Path(args.markdown).write_text(md, encoding="utf-8")
    png = Path(args.png) if args.png else Path(f"{Path(args.dir).resolve().name}_categories.png")
    plot_category_counts(st, png)
    _out(f"chart: {png}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from .show import show_record

    out = show_record(Path(args.dir), args.key, Path(args.out))
    _out(f"wrote {out}")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from .interop import import_farslip

    report = import_farslip(Path(args.src), Path(args.out), source_name=args.source_name, split=args.split,
                            on_bad_record=args.on_bad_record, progress=not args.quiet)
    _out(_table(report.summary_rows()))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .interop import export_farslip

    res = export_farslip(Path(args.dir), Path(args.out), splits=args.split or None, progress=not args.quiet)
    _out(f"exported {res.records} records ({res.objects} objects) to {res.root}")
    return 0


def _cmd_publish(args: argparse.Namespace) -> int:
    from .hub import publish

    res = publish(Path(args.dir), args.repo_id, private=args.private, dry_run=args.dry_run)
    head = "dry run: would upload" if res.dry_run else "uploaded"
    _out(f"{head} {len(res.files)} files to dataset repo {res.repo_id} "
         f"({'private' if res.private else 'public'}; token: {res.token_source})")
    for f in res.files:
        _out(f"  {f}")
    if res.dry_run:
        _out("\n--- README.md (rendered card) ---")
        _out(res.card)
    elif res.url:
        _out(res.url)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree of ``mgrs``."""
    p = argparse.ArgumentParser(prog="mgrs", description="Build, check and publish MGRS-style shards.")
    p.add_argument("--version", action="version", version=f"mgrs_builder {__version__}")
    p.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("sources", help="list the source readers").set_defaults(func=_cmd_sources)

    b = sub.add_parser("build", help="build shards from source datasets")
    b.add_argument("sources", nargs="+", metavar="NAME=PATH", help="reader name (optionally NAME:label) = root")
    b.add_argument("--out", required=True, help="output folder")
    b.add_argument("--workers", type=int, default=1)
    b.add_argument("--on-bad-record", choices=["error", "skip"], default="error")
    b.add_argument("--captioner", default="template", help="template | hf:MODEL_ID")
    b.add_argument("--caption-prompt", default=None, help="prompt for the hf captioner's long caption")
    b.add_argument("--tile-size", type=int, default=512)
    b.add_argument("--overlap", type=int, default=128)
    b.add_argument("--min-visible", type=float, default=0.5, help="keep a cut object if this share is inside")
    b.add_argument("--max-shard-mb", type=float, default=256.0)
    b.add_argument("--image-format", choices=["png", "jpeg"], default="png")
    b.add_argument("--drop-empty-tiles", action="store_true", help="do not write tiles without objects")
    b.add_argument("--map", action="append", default=[], metavar="SOURCE:LABEL=CANONICAL")
    b.add_argument("--no-builtin-leakage", action="store_true", help="turn off the built-in split/id rules")
    b.add_argument("--leakage-ids", action="append", default=[], metavar="FILE")
    b.add_argument("--benchmark-dir", action="append", default=[], metavar="DIR",
                   help="drop scenes and tiles whose pHash matches an image here")
    b.add_argument("--hash-distance", type=int, default=4)
    b.add_argument("--json", action="store_true", help="also print the JSON build report")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    b.set_defaults(func=_cmd_build)

    v = sub.add_parser("validate", help="check a built folder (exit 1 on any fault)")
    v.add_argument("dir")
    v.add_argument("--no-decode", action="store_true", help="skip decoding tile images")
    v.set_defaults(func=_cmd_validate)

    s = sub.add_parser("stats", help="per-category counts (Markdown) and a PNG bar chart")
    s.add_argument("dir")
    s.add_argument("--png", default=None, help="chart path (default: ./<folder>_categories.png)")
    s.add_argument("--markdown", default=None, help="also write the Markdown here")
    s.set_defaults(func=_cmd_stats)

    sh = sub.add_parser("show", help="draw one record with its boxes and captions")
    sh.add_argument("dir")
    sh.add_argument("key")
    sh.add_argument("--out", required=True)
    sh.set_defaults(func=_cmd_show)

    i = sub.add_parser("import-farslip", help="global_imgs/ + text_info.json -> shards")
    i.add_argument("src")
    i.add_argument("--out", required=True)
    i.add_argument("--source-name", default="mgrs200k")
    i.add_argument("--split", default="train")
    i.add_argument("--on-bad-record", choices=["error", "skip"], default="error")
    i.add_argument("--quiet", action="store_true")
    i.set_defaults(func=_cmd_import)

    e = sub.add_parser("export-farslip", help="shards -> global_imgs/ + text_info.json")
    e.add_argument("dir")
    e.add_argument("--out", required=True)
    e.add_argument("--split", action="append", default=[], help="only these splits (default: all)")
    e.add_argument("--quiet", action="store_true")
    e.set_defaults(func=_cmd_export)

    pb = sub.add_parser("publish", help="upload shards and card to a Hub dataset repo")
    pb.add_argument("dir")
    pb.add_argument("--repo-id", required=True)
    pb.add_argument("--private", action="store_true")
    pb.add_argument("--dry-run", action="store_true", help="list the files and show the card; upload nothing")
    pb.set_defaults(func=_cmd_publish)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``mgrs``; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level), format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except MgrsBuilderError as err:
        sys.stderr.write(f"error: {err}\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
