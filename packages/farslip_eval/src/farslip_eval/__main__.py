"""``python -m farslip_eval`` runs the ``farslip-eval`` CLI."""

import sys

from farslip_eval.cli import main

sys.exit(main())
