"""`python -m noma ...` is `nomac ...`."""

import sys

from noma.cli import main

sys.exit(main())
