"""Keep hypothesis's files out of the checkout.

Even with no example database, hypothesis caches what it learns about the code under test
(`.hypothesis/constants`, ...) in the current folder, from collection on. The fuzz test gets a
fresh temporary folder instead, set before its module is collected and removed at exit, so a
run writes nothing in the repository and no earlier run can steer the next one.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile

from hypothesis import configuration

_HOME = tempfile.mkdtemp(prefix="ipvsctl-hypothesis-")
configuration.set_hypothesis_home_dir(_HOME)
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
