"""paperzoo-cluster-gcn: Cluster-GCN training on METIS graph clusters.

From "Cluster-GCN: An Efficient Algorithm for Training Deep and Large Graph
Convolutional Networks" (Chiang et al., KDD 2019, arXiv:1905.07953).
"""

from __future__ import annotations

from paperzoo.cluster_gcn.config import ClusterGCNConfig, TrainCommandConfig
from paperzoo.cluster_gcn.estimator import ClusterGCN
from paperzoo.cluster_gcn.inference import layerwise_inference, predict_logits
from paperzoo.cluster_gcn.model import ClusterGCNModel
from paperzoo.cluster_gcn.normalize import diag_enhanced_adjacency, graph_csr
from paperzoo.cluster_gcn.partition import Partition, partition_graph

__all__ = [
    "ClusterGCN",
    "ClusterGCNConfig",
    "ClusterGCNModel",
    "Partition",
    "TrainCommandConfig",
    "diag_enhanced_adjacency",
    "graph_csr",
    "layerwise_inference",
    "partition_graph",
    "predict_logits",
]
