from __future__ import annotations

import numpy as np
import pytest
import torch

from paperzoo.cluster_gcn.inference import layerwise_inference, model_adjacency, model_features
from paperzoo.cluster_gcn.model import ClusterGCNModel, PyGLayer, ReferenceLayer
from paperzoo.cluster_gcn.normalize import binary_adjacency, csr_to_coo, diag_enhanced_adjacency, graph_csr
from paperzoo.cluster_gcn.synthetic import stochastic_block_model
from paperzoo.core.testing.conformance import check_seeded_determinism, check_train_step

# A directed 4-node graph, so a transposed adjacency would give other numbers.
ROWS = torch.tensor([1, 2, 2, 3])  # targets
COLS = torch.tensor([0, 0, 1, 2])  # sources


def _normalised() -> torch.Tensor:
    return diag_enhanced_adjacency(ROWS, COLS, 4, 1.0)


def test_reference_layer_order():
    torch.manual_seed(0)
    layer = ReferenceLayer(3, 5, dropout=0.0, layer_norm=True, last=False).eval()
    h = torch.randn(4, 3)
    adjacency = _normalised()
    support = torch.cat([adjacency.to_dense() @ h, h], dim=1)
    expected = torch.relu(
        torch.nn.functional.layer_norm(support @ layer.linear.weight.T, (5,), layer.norm.weight, layer.norm.bias)
    )
    torch.testing.assert_close(layer(adjacency, h, h), expected)
    assert layer.linear.bias is None


def test_reference_last_layer_is_linear():
    layer = ReferenceLayer(3, 2, dropout=0.0, layer_norm=True, last=True).eval()
    h = torch.randn(4, 3)
    adjacency = _normalised()
    expected = torch.cat([adjacency.to_dense() @ h, h], dim=1) @ layer.linear.weight.T + layer.linear.bias
    torch.testing.assert_close(layer(adjacency, h, h), expected)
    assert layer.norm is None


def test_reference_layer_dropout_hits_the_concatenation():
    torch.manual_seed(0)
    layer = ReferenceLayer(3, 4, dropout=0.5, layer_norm=False, last=True).train()
    outputs = {tuple(layer(_normalised(), torch.ones(4, 3), torch.ones(4, 3)).flatten().tolist()) for _ in range(3)}
    assert len(outputs) > 1


def test_gcn_layer_uses_rows_as_targets():
    torch.manual_seed(0)
    layer = PyGLayer("gcn", 3, 2, dropout=0.0, layer_norm=False, last=True).eval()
    h = torch.randn(4, 3)
    adjacency = _normalised()
    expected = adjacency.to_dense() @ layer.conv.lin(h) + layer.conv.bias
    torch.testing.assert_close(layer(adjacency, h, h), expected)


def test_sage_layer_means_over_in_neighbours():
    torch.manual_seed(0)
    layer = PyGLayer("sage", 3, 2, dropout=0.0, layer_norm=False, last=True).eval()
    h = torch.randn(4, 3)
    adjacency = binary_adjacency(ROWS, COLS, 4)
    mean = torch.stack([torch.zeros(3), h[0], (h[0] + h[1]) / 2, h[2]])
    expected = layer.conv.lin_l(mean) + layer.conv.lin_r(h)
    torch.testing.assert_close(layer(adjacency, h, h), expected)


@pytest.mark.parametrize("layer_type", ["reference", "gcn", "sage"])
def test_every_layer_type_trains(layer_type):
    graph = stochastic_block_model(120, num_blocks=3, num_classes=3, num_features=8, seed=0)
    indptr, indices = graph_csr(graph.edge_index, graph.num_nodes)
    rows, cols = csr_to_coo(indptr, indices)
    model = ClusterGCNModel(8, 16, 3, num_layers=3, layer_type=layer_type, dropout=0.0)
    kind = model.adjacency_kind
    adjacency = (
        diag_enhanced_adjacency(rows, cols, 120, 1.0) if kind == "normalized" else binary_adjacency(rows, cols, 120)
    )
    batch = (torch.from_numpy(graph.x), adjacency, torch.from_numpy(graph.labels))

    def loss_of(net, data):
        x, adj, y = data
        return torch.nn.functional.cross_entropy(net(x, adj), y)

    check_train_step(model, batch, loss_of, steps=15)


def test_model_seeding_is_deterministic():
    graph = stochastic_block_model(50, num_blocks=2, num_classes=2, num_features=4, seed=1)
    indptr, indices = graph_csr(graph.edge_index, graph.num_nodes)
    rows, cols = csr_to_coo(indptr, indices)
    adjacency = diag_enhanced_adjacency(rows, cols, 50, 1.0)

    def run(seed):
        torch.manual_seed(seed)
        model = ClusterGCNModel(4, 8, 2, dropout=0.3).train()
        return model(torch.from_numpy(graph.x), adjacency)

    check_seeded_determinism(run)


@pytest.mark.parametrize(
    ("layer_type", "precompute", "feature_norm"),
    [("reference", False, "standard"), ("reference", True, "standard"), ("gcn", False, "row"), ("sage", False, "none")],
)
@pytest.mark.parametrize("chunk_size", [None, 7, 64])
def test_layerwise_inference_equals_forward(layer_type, precompute, feature_norm, chunk_size):
    graph = stochastic_block_model(150, num_blocks=3, num_classes=3, num_features=6, seed=2)
    indptr, indices = graph_csr(graph.edge_index, graph.num_nodes)
    torch.manual_seed(0)
    model = ClusterGCNModel(
        6, 16, 3, num_layers=3, layer_type=layer_type, precompute_first_layer=precompute, feature_norm=feature_norm
    )
    x_raw = torch.from_numpy(graph.x)
    model.fit_feature_norm(x_raw[:100])
    x = model_features(model, x_raw, indptr, indices)
    adjacency = model_adjacency(model, indptr, indices, 1.0)
    model.eval()
    with torch.no_grad():
        expected = model(x, adjacency)
    got = layerwise_inference(model, x, adjacency, chunk_size=chunk_size)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_precomputed_features_are_ax_and_x():
    indptr, indices = graph_csr(np.stack([COLS.numpy(), ROWS.numpy()]), 4)
    model = ClusterGCNModel(2, 4, 2, precompute_first_layer=True, feature_norm="none")
    x = torch.arange(8, dtype=torch.float32).reshape(4, 2)
    features = model_features(model, x, indptr, indices)
    dense = torch.zeros(4, 4)
    dense[ROWS, COLS] = 1
    torch.testing.assert_close(features, torch.cat([dense @ x, x], dim=1))


def test_feature_norms():
    x = torch.tensor([[1.0, 3.0], [2.0, 2.0], [0.0, 0.0]])
    row = ClusterGCNModel(2, 4, 2, feature_norm="row")
    torch.testing.assert_close(row.prepare_features(x), torch.tensor([[0.25, 0.75], [0.5, 0.5], [0.0, 0.0]]))
    standard = ClusterGCNModel(2, 4, 2, feature_norm="standard")
    standard.fit_feature_norm(x[:2])
    torch.testing.assert_close(standard.prepare_features(x[:2]), torch.tensor([[-1.0, 1.0], [1.0, -1.0]]))


def test_save_load_roundtrip(tmp_path):
    torch.manual_seed(0)
    model = ClusterGCNModel(4, 8, 3, num_layers=3, feature_norm="standard", diag_lambda=0.5, multilabel=True).eval()
    model.fit_feature_norm(torch.randn(10, 4))
    model.save_pretrained(tmp_path / "model")
    restored = ClusterGCNModel.from_pretrained(tmp_path / "model").eval()
    assert restored.diag_lambda == 0.5
    assert restored.multilabel
    for (name, a), (_, b) in zip(model.state_dict().items(), restored.state_dict().items()):
        assert torch.equal(a, b), name


def test_invalid_model_settings():
    with pytest.raises(ValueError, match="invalid layer_type 'gat'"):
        ClusterGCNModel(4, 8, 2, layer_type="gat")
    with pytest.raises(ValueError, match="reference' only"):
        ClusterGCNModel(4, 8, 2, layer_type="gcn", precompute_first_layer=True)
    with pytest.raises(ValueError, match="num_layers must be at least 1"):
        ClusterGCNModel(4, 8, 2, num_layers=0)
