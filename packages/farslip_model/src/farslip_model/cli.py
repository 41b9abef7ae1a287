"""``farslip-train``: train FarSLIP from a preset or config file with dotted overrides.

Examples::

    farslip-train --config tiny-stage1 --set data.path=shards/ --set output_dir=runs/s1
    torchrun --nproc_per_node 4 -m farslip_model --config stage2 --set data.path=/data/mgrs
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from farslip_model.config import ConfigError, list_presets, load_config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="farslip-train",
        description="Train FarSLIP (stage 1 or 2) on one process or under torchrun.",
        epilog=f"presets: {', '.join(list_presets())}",
    )
    parser.add_argument("--config", required=True, help="a preset name or a YAML/JSON config file")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config value, e.g. --set optim.lr=1e-4 (repeatable)",
    )
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def setup_logging(level: str) -> None:
    """Log to stderr; ranks other than 0 only log warnings and errors."""
    rank = int(os.environ.get("RANK", "0") or 0)
    logging.basicConfig(
        level=getattr(logging, level) if rank == 0 else logging.WARNING,
        format=f"%(asctime)s [rank {rank}] %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level)
    try:
        config = load_config(args.config, args.overrides)
    except ConfigError as err:
        print(f"farslip-train: config error: {err}", file=sys.stderr)
        return 2
    if args.print_config:
        import yaml

        from farslip_model.config import config_to_dict

        sys.stdout.write(yaml.safe_dump(config_to_dict(config), sort_keys=False))
        return 0
    from farslip_model.train import train

    result = train(config)
    logger = logging.getLogger(__name__)
    logger.info("done: %d steps, final checkpoint %s", result.steps, result.final_checkpoint)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
