"""The model card written beside weights saved with ``save_pretrained``.

huggingface_hub's default card states that the model "has been pushed to the Hub"
and leaves three "[More Information Needed]" lines, which is false for a
folder saved by a paperzoo run. Model classes pass this template instead:
``class MyModel(nn.Module, PyTorchModelHubMixin, model_card_template=MODEL_CARD_TEMPLATE, ...)``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TypeVar

T = TypeVar("T")

MODEL_CARD_TEMPLATE = """---
{{ card_data }}
---

Weights (`model.safetensors`) and constructor arguments (`config.json`) saved by
a paperzoo run. Load them with the model class's `from_pretrained(folder)`;
the package README explains the class, the run that produced it and its results.
- Paper: {{ paper_url | default("see the package README", true) }}
- Docs: {{ docs_url | default("see the package README", true) }}
"""


def load_pretrained(model_class: type[T], folder: str | os.PathLike) -> T:
    """Load ``model_class.from_pretrained(folder)`` with the library's status line sent to stderr.

    huggingface_hub prints "Loading weights from local directory" to stdout,
    which commands that print JSON or CSV on stdout must keep clean.
    """
    with contextlib.redirect_stdout(sys.stderr):
        return model_class.from_pretrained(folder)
