"""The GCN trained by Cluster-GCN and by the full-batch baseline.

From "Cluster-GCN: An Efficient Algorithm for Training Deep and Large Graph
Convolutional Networks" (Chiang et al., KDD 2019, arXiv:1905.07953).

Three layer types share one interface, ``layer(adjacency, h_src, h_dst)``,
where ``adjacency`` is an ``(n_dst, n_src)`` sparse CSR matrix. Training
passes a square batch adjacency with ``h_src is h_dst``; layer-wise
inference passes row blocks of the full graph (see :mod:`.inference`).
"""

from __future__ import annotations

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from paperzoo.core.hub import MODEL_CARD_TEMPLATE

LAYER_TYPES = ("reference", "gcn", "sage")
FEATURE_NORMS = ("none", "row", "standard")


def _float32(h: torch.Tensor) -> torch.autocast:
    """Return a context that turns autocast off, because torch has no bfloat16 sparse CSR kernels on CPU."""
    return torch.autocast(device_type=h.device.type, enabled=False)


class ReferenceLayer(nn.Module):
    """The layer of the Cluster-GCN reference code.

    .. math::
        h' = \\mathrm{ReLU}(\\mathrm{LayerNorm}(\\mathrm{Dropout}([A' h \\,\\|\\, h])\\, W))

    in that order; the last layer has no layer norm and no ReLU. With
    ``aggregate=False`` (a first layer on precomputed ``[A X, X]`` features)
    the concatenation is skipped and the layer is dense.

    Args:
        in_dim: input width (before the concatenation doubles it).
        out_dim: output width.
        dropout: dropout probability on the layer's input.
        layer_norm: apply layer norm after ``W``; ``W`` then has no bias, as
            in the reference, because the norm's offset takes its place.
        last: the output layer (no norm, no ReLU, a bias).
        aggregate: concatenate ``A' h`` with ``h``.
    """

    adjacency_kind = "normalized"

    def __init__(self, in_dim: int, out_dim: int, dropout: float, layer_norm: bool, last: bool, aggregate: bool = True):
        super().__init__()
        self.aggregate = aggregate
        self.dropout = nn.Dropout(dropout)
        use_norm = layer_norm and not last
        self.linear = nn.Linear(in_dim * 2 if aggregate else in_dim, out_dim, bias=not use_norm)
        self.norm = nn.LayerNorm(out_dim) if use_norm else None
        self.last = last

    def forward(self, adjacency: torch.Tensor, h_src: torch.Tensor, h_dst: torch.Tensor) -> torch.Tensor:
        if self.aggregate:
            with _float32(h_src):
                support = torch.cat([torch.sparse.mm(adjacency, h_src.float()), h_dst.float()], dim=1)
        else:
            support = h_dst
        out = self.linear(self.dropout(support))
        if self.norm is not None:
            out = self.norm(out)
        return out if self.last else torch.relu(out)


class PyGLayer(nn.Module):
    """A torch_geometric convolution wrapped as Dropout -> conv -> [LayerNorm] -> ReLU.

    ``"gcn"``: :class:`~torch_geometric.nn.GCNConv` without its own
    normalisation, fed the diagonal-enhanced ``A'``, so it computes
    ``A' h W + b``. ``"sage"``: :class:`~torch_geometric.nn.SAGEConv` with
    mean aggregation over the binary adjacency, ``W_1 h + W_2 mean_j h_j``;
    it normalises by itself, so the diagonal enhancement does not apply.
    Both run in float32 under mixed precision, since their sparse products
    have no bfloat16 kernels on CPU.
    """

    def __init__(self, kind: str, in_dim: int, out_dim: int, dropout: float, layer_norm: bool, last: bool):
        super().__init__()
        from torch_geometric.nn import GCNConv, SAGEConv

        self.kind = kind
        self.dropout = nn.Dropout(dropout)
        if kind == "gcn":
            self.conv = GCNConv(in_dim, out_dim, normalize=False, add_self_loops=False)
        else:
            self.conv = SAGEConv(in_dim, out_dim, aggr="mean")
        self.norm = nn.LayerNorm(out_dim) if layer_norm and not last else None
        self.last = last

    @property
    def adjacency_kind(self) -> str:
        return "normalized" if self.kind == "gcn" else "binary"

    def forward(self, adjacency: torch.Tensor, h_src: torch.Tensor, h_dst: torch.Tensor) -> torch.Tensor:
        same = h_dst is h_src
        h_src = self.dropout(h_src)
        h_dst = h_src if same else self.dropout(h_dst)
        with _float32(h_src):
            if self.kind == "gcn":
                # A sparse adjacency is read as adj_t (row = target), so a row block of it gives those targets only.
                out = self.conv(h_src.float(), adjacency)
            else:
                out = self.conv((h_src.float(), h_dst.float()), adjacency)
        if self.norm is not None:
            out = self.norm(out)
        return out if self.last else torch.relu(out)


class ClusterGCNModel(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="paperzoo-cluster-gcn",
    tags=["cluster-gcn", "gnn"],
    paper_url="https://arxiv.org/abs/1905.07953",
    model_card_template=MODEL_CARD_TEMPLATE,
):
    """A stack of graph layers for node classification.

    The module stores its feature preprocessing (row normalisation, or the
    training nodes' mean and standard deviation), so a saved model predicts
    on raw features.

    Args:
        in_dim: node feature width F (``2F`` inputs reach the first layer
            when ``precompute_first_layer``).
        hidden_dim: width of the hidden layers.
        out_dim: number of classes, or labels for multi-label data.
        num_layers: graph layers, at least 1.
        layer_type: ``"reference"``, ``"gcn"`` or ``"sage"``.
        dropout: dropout probability before every layer.
        layer_norm: layer norm after every hidden layer.
        precompute_first_layer: the first layer reads precomputed
            ``[A X, X]`` (reference layer only) and does not aggregate.
        multilabel: outputs are independent sigmoids instead of a softmax.
        diag_lambda: lambda of the diagonal enhancement used in training,
            kept so a saved model rebuilds the same adjacency for inference.
        to_undirected: whether training added reverse edges (kept likewise).
        feature_norm: ``"none"``, ``"row"`` (divide each row by its sum of
            absolute values, as Kipf & Welling do on citation graphs) or ``"standard"`` (subtract
            the training nodes' mean, divide by their standard deviation, as
            the Cluster-GCN reference does).
    """

    def __init__(
        self,
        in_dim: int,
        hidden_dim: int,
        out_dim: int,
        num_layers: int = 2,
        layer_type: str = "reference",
        dropout: float = 0.2,
        layer_norm: bool = True,
        precompute_first_layer: bool = False,
        multilabel: bool = False,
        feature_norm: str = "none",
        diag_lambda: float = 1.0,
        to_undirected: bool = True,
    ):
        super().__init__()
        if layer_type not in LAYER_TYPES:
            raise ValueError(f"invalid layer_type {layer_type!r}; choose one of {', '.join(LAYER_TYPES)}")
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        if precompute_first_layer and layer_type != "reference":
            raise ValueError("precompute_first_layer works with layer_type='reference' only")
        if feature_norm not in FEATURE_NORMS:
            raise ValueError(f"invalid feature_norm {feature_norm!r}; choose one of {', '.join(FEATURE_NORMS)}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.in_dim, self.hidden_dim, self.out_dim = in_dim, hidden_dim, out_dim
        self.num_layers, self.layer_type, self.multilabel = num_layers, layer_type, multilabel
        self.precompute_first_layer = precompute_first_layer
        self.feature_norm = feature_norm
        self.diag_lambda, self.to_undirected = diag_lambda, to_undirected

        widths = [in_dim * 2 if precompute_first_layer else in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        layers = []
        for index in range(num_layers):
            last = index == num_layers - 1
            if layer_type == "reference":
                aggregate = not (precompute_first_layer and index == 0)
                layers.append(ReferenceLayer(widths[index], widths[index + 1], dropout, layer_norm, last, aggregate))
            else:
                layers.append(PyGLayer(layer_type, widths[index], widths[index + 1], dropout, layer_norm, last))
        self.layers = nn.ModuleList(layers)
        self.register_buffer("feature_mean", torch.zeros(in_dim))
        self.register_buffer("feature_scale", torch.ones(in_dim))

    @property
    def adjacency_kind(self) -> str:
        """The adjacency every layer reads: ``"normalized"`` (A') or ``"binary"`` (SAGE)."""
        return self.layers[-1].adjacency_kind

    def fit_feature_norm(self, x_train: torch.Tensor) -> None:
        """Store the mean and standard deviation of ``(n, F)`` training-node features (``"standard"`` only).

        Features with zero deviation are divided by 1.
        """
        if self.feature_norm != "standard":
            return
        std, mean = torch.std_mean(x_train.to(torch.float64), dim=0, correction=0)
        self.feature_mean.copy_(mean.to(self.feature_mean.dtype))
        self.feature_scale.copy_(torch.where(std > 0, std, torch.ones_like(std)).to(self.feature_scale.dtype))

    def prepare_features(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the model's feature preprocessing to raw ``(n, F)`` features."""
        if self.feature_norm == "row":
            return x / x.abs().sum(dim=1, keepdim=True).clamp_min(1e-12)
        if self.feature_norm == "standard":
            return (x - self.feature_mean) / self.feature_scale
        return x

    def forward(self, x: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        """Return ``(n, out_dim)`` logits of a (sub)graph.

        Args:
            x: ``(n, F)`` features after :meth:`prepare_features`
                (``(n, 2F)`` with ``precompute_first_layer``).
            adjacency: ``(n, n)`` sparse CSR adjacency of kind
                :attr:`adjacency_kind`.
        """
        h = x
        for layer in self.layers:
            h = layer(adjacency, h, h)
        return h
