"""`python -m everest_sandbox.everestctl ...`."""

import sys

from everest_sandbox.everestctl.cli import main

sys.exit(main(sys.argv[1:]))
