"""The SimCLR network: a ResNet encoder and a projection head.

The encoder's pooled features are what downstream tasks use (linear probe,
kNN, other packages through :func:`save_encoder`); the projection head
exists only for the contrastive loss and is dropped after pretraining.
"""

from __future__ import annotations

from typing import Any

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from paperzoo.core.features.encoders import build_backbone
from paperzoo.core.hub import MODEL_CARD_TEMPLATE

ARCHITECTURES = ("resnet18", "resnet34", "resnet50")


def backbone_architecture(arch: str, width: int = 64, cifar_stem: bool = False) -> dict[str, Any]:
    """Describe a timm ResNet as the core's saved-encoder ``architecture`` entry.

    Args:
        arch: ``"resnet18"``, ``"resnet34"`` or ``"resnet50"``.
        width: channels of the first stage (64 in the standard ResNets); the
            stages have ``width, 2 width, 4 width, 8 width`` channels (times 4
            after each bottleneck of ResNet-50).
        cifar_stem: 3x3 stride-1 first convolution and no max-pool, for 32x32
            inputs.
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    kwargs: dict[str, Any] = {}
    if width != 64:
        kwargs = {"channels": [width, 2 * width, 4 * width, 8 * width], "stem_width": width}
    return {"library": "timm", "model_name": arch, "kwargs": kwargs, "cifar_stem": cifar_stem}


def projection_head(in_dim: int, hidden_dim: int, out_dim: int, layers: int) -> nn.Sequential:
    """Return SimCLR's MLP: ``layers - 1`` blocks of Linear, BatchNorm, ReLU, then a Linear.

    Two layers is SimCLR v1's head, three is v2's.
    """
    if layers < 1:
        raise ValueError(f"the projection head needs at least 1 layer, got {layers}")
    blocks: list[nn.Module] = []
    width = in_dim
    for _ in range(layers - 1):
        blocks += [nn.Linear(width, hidden_dim, bias=False), nn.BatchNorm1d(hidden_dim), nn.ReLU(inplace=True)]
        width = hidden_dim
    blocks.append(nn.Linear(width, out_dim))
    return nn.Sequential(*blocks)


class SimCLRModel(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="paperzoo-simclr",
    tags=["simclr", "self-supervised", "paperzoo"],
    paper_url="https://arxiv.org/abs/2002.05709",
    model_card_template=MODEL_CARD_TEMPLATE,
):
    """Encoder ``f`` and projection head ``g``: ``h = f(x)``, ``z = g(h)``.

    Args:
        arch: timm ResNet name (``resnet18``, ``resnet34``, ``resnet50``).
        width: first-stage channels (64 is the standard network).
        cifar_stem: 3x3 stem without max-pool for 32x32 images.
        head_layers: 2 (SimCLR v1) or 3 (v2).
        head_hidden_dim: hidden width of the head; ``None`` uses the
            encoder's feature width.
        proj_dim: output width of the head (128 in the paper).
        input_size: side of the images the model was trained on, recorded
            for feature extraction.
        mean, std: per-channel normalisation of [0, 1] pixels, recorded with
            the encoder.
    """

    def __init__(
        self,
        arch: str = "resnet18",
        width: int = 64,
        cifar_stem: bool = True,
        head_layers: int = 2,
        head_hidden_dim: int | None = None,
        proj_dim: int = 128,
        input_size: int = 32,
        mean: list[float] | None = None,
        std: list[float] | None = None,
    ):
        super().__init__()
        self.architecture = backbone_architecture(arch, width, cifar_stem)
        self.encoder = build_backbone(self.architecture)
        self.feature_dim = int(self.encoder.num_features)
        self.head = projection_head(self.feature_dim, head_hidden_dim or self.feature_dim, proj_dim, head_layers)
        self.input_size = input_size
        self.mean = list(mean or [0.5, 0.5, 0.5])
        self.std = list(std or [0.5, 0.5, 0.5])

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Map ``(B, 3, H, W)`` normalised pixels to features ``(B, F)`` and projections ``(B, P)``."""
        features = self.encoder(pixels)
        return features, self.head(features)
