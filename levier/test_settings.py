"""Settings for the test suite and type checking: Levier's settings with a fixed test key.

Production refuses to start without SECRET_KEY; the tests must not need one in the shell.
"""

import os

os.environ.setdefault(
    "SECRET_KEY", "levier-test-suite-only-key-never-used-in-production-0123456789"
)

from levier.settings import *  # noqa: F403
