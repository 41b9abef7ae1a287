"""``python -m mgrs_builder`` runs the ``mgrs`` command line."""

from mgrs_builder.cli import main

if __name__ == "__main__":  # guarded: spawned worker processes re-import this module as __mp_main__
    raise SystemExit(main())
