"""``python -m everest_sandbox start|stop|status|serve --dir DIR``."""

import sys

from everest_sandbox.launcher import main

sys.exit(main())
