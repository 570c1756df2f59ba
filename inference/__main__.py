"""`python -m inference mediate|bench`: see `inference.cli`."""

import sys

from inference.cli import main

sys.exit(main())
