"""``python -m patchwarden``."""

from patchwarden.cli.main import main

main()
