"""Progress bars that appear only where a person is watching.

Bars are shown on the main process only, and hidden when
``PAPERZOO_NO_PROGRESS`` is set or the log level is above INFO.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from tqdm.auto import tqdm


def progress_enabled() -> bool:
    """Return False when progress bars are switched off for this process."""
    if os.environ.get("PAPERZOO_NO_PROGRESS", "").lower() in {"1", "true", "yes"}:
        return False
    return logging.getLogger("paperzoo").getEffectiveLevel() <= logging.INFO


def progress_bar(*, total: int | None = None, desc: str = "", unit: str = "it", disable: bool = False, **kwargs: Any):
    """Return a tqdm bar, disabled when progress is switched off."""
    return tqdm(
        total=total, desc=desc, unit=unit, disable=disable or not progress_enabled(), dynamic_ncols=True, **kwargs
    )
