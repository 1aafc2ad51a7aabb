"""TEMI clustering heads: H DINO-style heads evaluated in one batched pass."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from paperzoo.core.hub import MODEL_CARD_TEMPLATE


class TEMIHeads(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="paperzoo-temi",
    tags=["clustering", "temi"],
    paper_url="https://arxiv.org/abs/2303.17896",
    model_card_template=MODEL_CARD_TEMPLATE,
):
    """H independent clustering heads on frozen embeddings.

    From "Exploring the Limits of Deep Image Clustering using Pretrained
    Models" (Adaloglou et al., BMVC 2023, arXiv:2303.17896). Each head h maps
    an embedding x to K logits:

    .. math::
        z = W_2^h\\,\\mathrm{GELU}(W_1^h x + b_1^h) + b_2^h, \\qquad
        \\ell_k = g^h_k \\frac{v^h_k \\cdot z / \\lVert z \\rVert}{\\lVert v^h_k \\rVert}

    that is Linear -> GELU -> Linear to the bottleneck -> L2 normalisation ->
    a weight-normalised Linear without bias, whose gains ``g`` start at 1 and
    are trained. All heads run as batched matrix products.

    The module also stores the input standardisation (train-set mean and
    std, identity when unused), the encoder that produced its inputs, and
    the head chosen after training, so a saved model predicts on its own.

    Args:
        in_dim: embedding width D.
        num_clusters: K.
        num_heads: H.
        hidden_dim: width of the hidden layer (512 in the reference).
        bottleneck_dim: width before the normalised last layer (256).
        encoder: the encoder spec the inputs came from, used by
            ``paperzoo temi predict`` to embed new data the same way.
        encoder_precision: the encoder's inference precision in training.
    """

    def __init__(
        self,
        in_dim: int,
        num_clusters: int,
        num_heads: int = 16,
        hidden_dim: int = 512,
        bottleneck_dim: int = 256,
        encoder: str | None = None,
        encoder_precision: str | None = None,
    ):
        super().__init__()
        if num_clusters < 2:
            raise ValueError(f"num_clusters must be at least 2, got {num_clusters}")
        if num_heads < 1:
            raise ValueError(f"num_heads must be at least 1, got {num_heads}")
        self.in_dim, self.num_clusters, self.num_heads = in_dim, num_clusters, num_heads
        self.hidden_dim, self.bottleneck_dim = hidden_dim, bottleneck_dim
        self.encoder, self.encoder_precision = encoder, encoder_precision

        self.w1 = nn.Parameter(torch.empty(in_dim, num_heads * hidden_dim))
        self.b1 = nn.Parameter(torch.zeros(num_heads * hidden_dim))
        self.w2 = nn.Parameter(torch.empty(num_heads, hidden_dim, bottleneck_dim))
        self.b2 = nn.Parameter(torch.zeros(num_heads, 1, bottleneck_dim))
        self.last_direction = nn.Parameter(torch.empty(num_heads, num_clusters, bottleneck_dim))
        self.last_gain = nn.Parameter(torch.ones(num_heads, num_clusters))
        self.register_buffer("input_mean", torch.zeros(in_dim))
        self.register_buffer("input_std", torch.ones(in_dim))
        self.register_buffer("selected_head", torch.tensor(0, dtype=torch.long))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Truncated-normal (std 0.02) weights, zero biases, unit gains, as DINO's head."""
        for weight in (self.w1, self.w2):
            nn.init.trunc_normal_(weight, std=0.02, a=-0.04, b=0.04)
        nn.init.zeros_(self.b1)
        nn.init.zeros_(self.b2)
        bound = 1.0 / math.sqrt(self.bottleneck_dim)
        nn.init.uniform_(self.last_direction, -bound, bound)
        nn.init.ones_(self.last_gain)

    def last_layer_parameters(self) -> list[nn.Parameter]:
        """The weight-normalised output layer, frozen during the first epoch."""
        return [self.last_direction, self.last_gain]

    def set_standardization(self, mean: torch.Tensor, std: torch.Tensor, eps: float = 1e-6) -> None:
        """Standardise inputs as ``(x - mean) / std`` from now on."""
        self.input_mean.copy_(mean.to(self.input_mean))
        self.input_std.copy_(std.to(self.input_std).clamp_min(eps))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the logits of every head, ``(H, B, K)``, for embeddings ``x`` of shape ``(B, D)``."""
        x = (x - self.input_mean) / self.input_std
        hidden = F.gelu(x @ self.w1 + self.b1)
        hidden = hidden.view(x.shape[0], self.num_heads, self.hidden_dim).transpose(0, 1)
        bottleneck = torch.baddbmm(self.b2, hidden, self.w2)
        bottleneck = F.normalize(bottleneck, dim=-1)
        weight = F.normalize(self.last_direction, dim=-1) * self.last_gain.unsqueeze(-1)
        return torch.bmm(bottleneck, weight.transpose(1, 2))

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor, head: int | None = None, temperature: float = 0.1) -> torch.Tensor:
        """Return ``(B, K)`` cluster probabilities of one head (the selected one by default)."""
        head = int(self.selected_head) if head is None else head
        return torch.softmax(self.forward(x)[head] / temperature, dim=-1)

    @torch.no_grad()
    def predict(self, x: torch.Tensor, head: int | None = None) -> torch.Tensor:
        """Return ``(B,)`` cluster ids from one head (the selected one by default)."""
        head = int(self.selected_head) if head is None else head
        return self.forward(x)[head].argmax(dim=-1)
