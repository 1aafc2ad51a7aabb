"""Measuring the memory a piece of work needs: process RSS on CPU, allocator peaks on GPU.

A process's peak resident set size (``VmHWM``) only grows, so a second
measurement in the same process inherits the first one's peak. On Linux the
peak can be reset by writing ``5`` to ``/proc/self/clear_refs`` (kernel 4.0
and later), and :class:`MemoryMeter` does so. Where that fails, the meter
falls back to the lifetime peak and sets ``peak_is_lifetime``. For numbers
that must not interfere at all, run each system in a fresh subprocess.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import resource
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MIB = 1024 * 1024
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(key: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def current_rss_bytes() -> int:
    """Return the resident set size of this process now, in bytes.

    Reads ``VmRSS`` from ``/proc/self/status``; elsewhere falls back to the
    lifetime peak from ``getrusage`` (an over-estimate).
    """
    kib = _status_kib("VmRSS")
    return kib * 1024 if kib is not None else peak_rss_bytes()


def peak_rss_bytes() -> int:
    """Return the peak resident set size since the process started or since :func:`reset_peak_rss`, in bytes."""
    kib = _status_kib("VmHWM")
    if kib is not None:
        return kib * 1024
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if sys.platform == "darwin" else maxrss * 1024  # macOS reports bytes, Linux KiB


def reset_peak_rss() -> bool:
    """Reset the peak RSS to the current RSS; returns False where the kernel does not allow it."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def release_free_memory() -> None:
    """Run the garbage collector and ask glibc to return freed heap pages to the system.

    Without ``malloc_trim`` freed memory stays in the process's RSS, so a
    measurement after a large temporary allocation would count it.
    """
    gc.collect()
    name = ctypes.util.find_library("c")
    if name is None or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        log.debug("malloc_trim is not available")


@dataclass
class MemoryReading:
    """The result of one :class:`MemoryMeter` block, in MiB.

    Attributes:
        device: ``"cpu"`` (process RSS) or a CUDA device (allocator counters).
        start_mb: RSS (or allocated GPU memory) when the block started.
        peak_mb: the peak during the block.
        above_start_mb: ``peak_mb - start_mb``: what the block itself needed.
        peak_is_lifetime: True when the peak could not be reset, so it may
            come from before the block.
    """

    device: str
    start_mb: float
    peak_mb: float
    above_start_mb: float
    peak_is_lifetime: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class MemoryMeter:
    """Measure the peak memory of a block of code.

    On CPU it reads the process RSS (so it counts every allocator: numpy,
    torch, Python); on a CUDA device it reads torch's allocator peak.

    >>> with MemoryMeter() as meter:
    ...     work()
    >>> meter.reading.peak_mb

    :meth:`start` and :meth:`stop` do the same where a ``with`` block does
    not fit, for example across training callbacks.

    Args:
        device: ``"cpu"`` or a CUDA device such as ``"cuda:0"``.
    """

    def __init__(self, device: str = "cpu"):
        self.device = str(device)
        self.reading: MemoryReading | None = None
        self._start = 0
        self._reset = False

    def start(self) -> None:
        """Record the starting point and reset the peak counter."""
        release_free_memory()
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._start = torch.cuda.memory_allocated(self.device)
            self._reset = True
        else:
            self._start = current_rss_bytes()
            self._reset = reset_peak_rss()

    def stop(self) -> MemoryReading:
        """Read the peak since :meth:`start`; also stored in :attr:`reading`."""
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
        else:
            peak = max(peak_rss_bytes(), current_rss_bytes())
        self.reading = MemoryReading(
            device=self.device,
            start_mb=self._start / MIB,
            peak_mb=peak / MIB,
            above_start_mb=max(0, peak - self._start) / MIB,
            peak_is_lifetime=not self._reset,
        )
        return self.reading

    def __enter__(self) -> MemoryMeter:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
