"""Helpers for the tests of every paperzoo package.

- :func:`requires_data`: skip a test when a data set's files are absent;
- :mod:`paperzoo.core.testing.conformance`: checks every trainable model passes
  (a step runs, the loss is finite and decreases, save/load is exact,
  seeding is deterministic).
"""

from __future__ import annotations

from paperzoo.core.testing.data import data_root, requires_data

__all__ = ["data_root", "requires_data"]
