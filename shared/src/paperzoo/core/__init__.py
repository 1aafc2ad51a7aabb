"""paperzoo-core: data sets, frozen encoders, the training loop, metrics and the CLI.

Sub-modules are imported on use so that ``import paperzoo.core`` stays cheap.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("paperzoo-core")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
