"""paperzoo-cluster-gcn: Cluster-GCN training on METIS graph clusters."""
