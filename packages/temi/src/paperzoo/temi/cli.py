"""The ``paperzoo temi`` sub-commands (registered through the ``paperzoo.methods`` entry point).

Heavy imports (torch, faiss) happen inside the command functions, so
``paperzoo --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from paperzoo.core.config import add_config_arguments, build_config
from paperzoo.temi.config import DEFAULT_PRESET, PRESETS, FitConfig

DESCRIPTION = """\
TEMI (Adaloglou et al., BMVC 2023): cluster a data set by training
clustering heads with self-distillation on neighbour pairs of frozen
pretrained embeddings. k-means on the same embeddings runs beside it as the
baseline. Without options it clusters scikit-learn's bundled digits with
EfficientNet-Lite0 features (no download).
"""


def _fit(args: argparse.Namespace) -> int:
    from paperzoo.temi.pipeline import format_results, run_fit

    values = {
        key: value
        for key, value in vars(args).items()
        if key not in {"func", "command", "temi_command", "verbose", "quiet"}
    }
    values.setdefault("preset", DEFAULT_PRESET)
    config = build_config(FitConfig, values, PRESETS)
    results = run_fit(config)
    print(format_results(results))
    print(f"chosen model: seed {results['chosen']['seed']}, head {results['chosen']['head']} (lowest loss)")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from paperzoo.temi.pipeline import run_predict

    summary = run_predict(
        args.model,
        args.dataset,
        split=args.split,
        data_dir=args.data_dir,
        side=args.side,
        encoder_spec=args.encoder,
        encoder_weights=args.encoder_weights,
        output=args.output,
        batch_size=args.batch_size,
    )
    json.dump(summary, sys.stdout, indent=2)
    print()
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``paperzoo temi {fit,predict}``."""
    parser = commands.add_parser(
        "temi",
        help="TEMI: clustering heads trained by self-distillation on frozen pretrained features",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="temi_command", metavar="ACTION", required=True)

    fit = actions.add_parser(
        "fit",
        help="train TEMI heads (and the k-means baseline) and evaluate them",
        description=DESCRIPTION
        + f"\nThe recipe starts from the {DEFAULT_PRESET!r} preset unless --preset says otherwise.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arguments(fit, FitConfig, PRESETS, default_preset=DEFAULT_PRESET)
    fit.set_defaults(func=_fit)

    predict = actions.add_parser("predict", help="assign clusters to a data set with a trained model")
    predict.add_argument("--model", required=True, type=Path, help="a run directory or its model/ folder")
    predict.add_argument("--dataset", required=True, help="a registered data set (see 'paperzoo datasets')")
    predict.add_argument(
        "--split", default=None, help="split to read (default: test when present, else the first split)"
    )
    predict.add_argument("--data-dir", default=None, help="folder holding the data set's files")
    predict.add_argument("--side", choices=("en", "de"), default=None, help="language side of multidomain_de_en")
    predict.add_argument("--encoder", default=None, help="override the encoder recorded in the model")
    predict.add_argument("--encoder-weights", default=None, help="local weights for the encoder")
    predict.add_argument("--batch-size", type=int, default=None, help="rows per encoder forward pass")
    predict.add_argument("--output", type=Path, default=None, help="write index,cluster[,label] rows to this CSV file")
    predict.set_defaults(func=_predict)
