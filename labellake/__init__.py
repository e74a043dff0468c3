"""labellake: a labeling-operations portal over a data lake.

The modules beside this file are the core (settings, errors, the AWS target, JSON
text limits) and import nothing above them. The layers over it import one way:
portal -> workflows -> etl -> lake.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("labellake")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
