"""Configs of Cluster-GCN: the recipe and the ``train`` command.

:class:`ClusterGCNConfig` is the recipe, and :class:`TrainCommandConfig` adds the
data, seeds and systems of ``paperzoo cluster-gcn train`` on top of it.

This module imports neither torch nor numpy, so ``paperzoo --help`` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import ClassVar

from paperzoo.core.config import option, presets_in

PRESETS = presets_in(Path(__file__).parent / "presets")
DEFAULT_PRESET = "cpu-small"
SYSTEMS = ("cluster_gcn", "full_batch")
LAYER_CHOICES = ("reference", "gcn", "sage")


@dataclass
class ClusterGCNConfig:
    """The training recipe shared by Cluster-GCN and the full-batch baseline.

    The defaults take the partitioning, dropout, lambda, learning rate and
    feature standardisation of the reference code's PPI recipe, with a
    smaller model (2 layers of 128) and 200 epochs. The presets contain
    complete recipes.
    """

    CLI_GROUP: ClassVar[str] = "recipe (shared by Cluster-GCN and the full-batch baseline)"

    num_parts: int = option(50, "METIS clusters p of the training graph")
    parts_per_batch: int = option(1, "clusters q joined into one batch (their induced subgraph)")
    layers: int = option(2, "graph layers")
    hidden: int = option(128, "width of the hidden layers")
    layer_type: str = option(
        "reference",
        "'reference' (concat(A'Z, Z) -> dropout -> W -> layer norm -> ReLU), 'gcn' (PyG GCNConv on A') or "
        "'sage' (PyG SAGEConv, mean aggregation)",
        choices=LAYER_CHOICES,
    )
    layer_norm: bool = option(True, "layer norm after every hidden layer")
    dropout: float = option(0.2, "dropout probability before every layer")
    diag_lambda: float = option(1.0, "lambda of the diagonal enhancement A' = (D+I)^-1 (A+I) + lambda diag")
    precompute_first_layer: bool = option(
        False, "feed the first layer [A X, X] precomputed once with the training graph's adjacency (reference layer)"
    )
    feature_norm: str = option(
        "standard",
        "node features: 'standard' (training nodes' mean and std), 'row' (rows sum to 1) or 'none'",
        choices=("none", "row", "standard"),
    )
    to_undirected: bool = option(
        True, "add the reverse of every edge before training (METIS always sees it undirected)"
    )
    setting: str = option(
        "transductive",
        "'transductive' (partition the whole graph, loss on training nodes) or 'inductive' (partition and train "
        "on the training nodes' subgraph only)",
        choices=("transductive", "inductive"),
    )
    epochs: int = option(200, "passes over all clusters")
    lr: float = option(0.01, "Adam learning rate")
    weight_decay: float = option(0.0, "L2 penalty coefficient (see weight_decay_layers)")
    weight_decay_layers: str = option(
        "first", "layers the L2 penalty applies to: 'first' (the reference and Kipf & Welling) or 'all'",
        choices=("first", "all"),
    )  # fmt: skip
    selection: str = option(
        "best_val",
        "weights evaluated at the end: 'best_val' (the epoch with the best validation score) or 'last'",
        choices=("best_val", "last"),
    )
    eval_every: int = option(1, "epochs between validation passes (full graph, layer-wise)")
    inference_chunk_size: int | None = option(
        None, "target nodes per block in layer-wise inference; none = one block per layer"
    )
    partition_backend: str = option(
        "auto",
        "METIS through 'pymetis', torch_geometric's ClusterData ('pyg') or 'auto'",
        choices=("auto", "pymetis", "pyg"),
    )
    mixed_precision: str = option("no", "'no', 'bf16' or 'fp16' (GPU)", choices=("no", "bf16", "fp16"))
    checkpoint_every_epochs: int = option(0, "epochs between checkpoints; 0 = only the final state")

    def __post_init__(self) -> None:
        for name in ("num_parts", "parts_per_batch", "layers", "hidden", "epochs", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.parts_per_batch > self.num_parts:
            raise ValueError(
                f"parts_per_batch={self.parts_per_batch} exceeds num_parts={self.num_parts}; "
                f"choose at most {self.num_parts}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.diag_lambda < 0:
            raise ValueError(f"diag_lambda must be >= 0, got {self.diag_lambda}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.precompute_first_layer and self.layer_type != "reference":
            raise ValueError("precompute_first_layer works with layer_type='reference' only")
        if self.inference_chunk_size is not None and self.inference_chunk_size < 1:
            raise ValueError(f"inference_chunk_size must be at least 1, got {self.inference_chunk_size}")
        if self.checkpoint_every_epochs < 0:
            raise ValueError(f"checkpoint_every_epochs must be >= 0, got {self.checkpoint_every_epochs}")


@dataclass
class TrainCommandConfig(ClusterGCNConfig):
    """Everything ``paperzoo cluster-gcn train`` needs: data, seeds, systems and the recipe."""

    CLI_GROUP: ClassVar[str] = "data, systems and run"

    dataset: str = option(
        "cora", "a registered graph data set (see 'paperzoo datasets'), or a path to a .pt or .npz graph file"
    )
    data_dir: str | None = option(None, "folder or file holding the data set (default: PAPERZOO_DATA or the cache)")
    split_seed: int = option(0, "seed of the node split for graphs that ship without one")
    systems: list[str] = option(
        ["cluster_gcn", "full_batch"], "systems to train, comma-separated: cluster_gcn, full_batch"
    )
    seeds: int = option(1, "number of seeds, run one after another (first_seed, first_seed+1, ...)")
    first_seed: int = option(0, "the first seed")
    output_dir: str | None = option(None, "run directory (default: runs/cluster-gcn/<time>-<dataset>)")
    progress: bool = option(True, "show progress bars", cli=False)
    preset: str | None = option(None, "the preset this config started from", cli=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.seeds < 1:
            raise ValueError(f"seeds must be at least 1, got {self.seeds}")
        unknown = [s for s in self.systems if s not in SYSTEMS]
        if unknown or not self.systems:
            raise ValueError(f"invalid systems {self.systems}; choose from {', '.join(SYSTEMS)}")

    def recipe(self) -> ClusterGCNConfig:
        """Return only the recipe fields, as a :class:`ClusterGCNConfig`."""
        return ClusterGCNConfig(**{field.name: getattr(self, field.name) for field in fields(ClusterGCNConfig)})


# Options that may change between a run and its resumption without making it another run.
RESUME_IGNORED = ("output_dir", "data_dir", "progress", "inference_chunk_size", "seeds")
