"""The ``paperzoo cluster-gcn`` sub-commands (registered through the ``paperzoo.methods`` entry point).

Heavy imports (torch, torch_geometric) happen inside the command functions,
so ``paperzoo --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from paperzoo.cluster_gcn.config import DEFAULT_PRESET, PRESETS, TrainCommandConfig
from paperzoo.core.config import add_config_arguments, build_config

DESCRIPTION = """\
Cluster-GCN (Chiang et al., KDD 2019): train a graph convolutional network
on batches made of a few METIS clusters of the graph, so memory follows the
batch instead of the graph. A full-batch GCN with the same layers trains
beside it for comparison. Both are evaluated on the whole graph with
layer-wise inference. Without options it runs the cpu-small recipe on Cora.
"""


def _train(args: argparse.Namespace) -> int:
    from paperzoo.cluster_gcn.pipeline import format_results, run_train

    values = {
        key: value
        for key, value in vars(args).items()
        if key not in {"func", "command", "cluster_gcn_command", "verbose", "quiet"}
    }
    values.setdefault("preset", DEFAULT_PRESET)
    config = build_config(TrainCommandConfig, values, PRESETS)
    results = run_train(config)
    print(format_results(results))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from paperzoo.cluster_gcn.predict import run_predict

    summary = run_predict(args.model, args.dataset, data_dir=args.data_dir, output=args.output)
    json.dump(summary, sys.stdout, indent=2)
    print()
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``paperzoo cluster-gcn {train,predict}``."""
    parser = commands.add_parser(
        "cluster-gcn",
        help="Cluster-GCN: GCN training on METIS graph clusters, with a full-batch baseline",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="cluster_gcn_command", metavar="ACTION", required=True)

    train = actions.add_parser(
        "train",
        help="train Cluster-GCN and the full-batch baseline, evaluate both",
        description=DESCRIPTION
        + f"\nThe recipe starts from the {DEFAULT_PRESET!r} preset unless --preset says otherwise.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arguments(train, TrainCommandConfig, PRESETS, default_preset=DEFAULT_PRESET)
    train.set_defaults(func=_train)

    predict = actions.add_parser("predict", help="classify the nodes of a graph with a trained model")
    predict.add_argument(
        "--model", required=True, type=Path, help="a run directory, a seed's system folder or its model/ folder"
    )
    predict.add_argument("--dataset", required=True, help="a registered graph data set, or a .pt/.npz graph file")
    predict.add_argument("--data-dir", default=None, help="folder or file holding the data set")
    predict.add_argument("--output", type=Path, default=None, help="write node,prediction rows to this CSV file")
    predict.set_defaults(func=_predict)
