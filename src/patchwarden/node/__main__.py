"""``python -m patchwarden.node``."""

import sys

from patchwarden.node.main import main

sys.exit(main())
