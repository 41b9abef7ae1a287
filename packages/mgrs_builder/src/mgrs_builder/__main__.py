"""``python -m mgrs_builder`` runs the ``mgrs`` command line."""

from mgrs_builder.cli import main

raise SystemExit(main())
