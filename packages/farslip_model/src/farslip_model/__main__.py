"""``python -m farslip_model`` (and ``torchrun -m farslip_model``) runs ``farslip-train``."""

import sys

from farslip_model.cli import main

sys.exit(main())
