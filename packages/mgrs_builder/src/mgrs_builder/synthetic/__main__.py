"""``python -m mgrs_builder.synthetic OUT --preset tiny|default|large --seed N``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ..errors import MgrsBuilderError
from .world import PRESETS, generate_world


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mgrs_builder.synthetic", description=__doc__)
    parser.add_argument("out", type=Path, help="output folder (new or empty)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="default")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        info = generate_world(args.out, args.preset, args.seed, progress=not args.quiet)
    except MgrsBuilderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(info.root / "world.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
