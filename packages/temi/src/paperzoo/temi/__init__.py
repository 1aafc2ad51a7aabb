"""paperzoo-temi: TEMI clustering heads on frozen pretrained features.

>>> from paperzoo.temi import TEMI, TEMIConfig
>>> model = TEMI(TEMIConfig(num_clusters=10, epochs=20, batch_size=256)).fit(embeddings)
>>> clusters = model.predict(new_embeddings)
"""

from __future__ import annotations

from paperzoo.temi.config import FitConfig, TEMIConfig
from paperzoo.temi.estimator import TEMI, NeighbourPairs, head_losses, predict_clusters
from paperzoo.temi.loss import TEMILoss
from paperzoo.temi.model import TEMIHeads

__all__ = [
    "TEMI",
    "FitConfig",
    "NeighbourPairs",
    "TEMIConfig",
    "TEMIHeads",
    "TEMILoss",
    "head_losses",
    "predict_clusters",
]
