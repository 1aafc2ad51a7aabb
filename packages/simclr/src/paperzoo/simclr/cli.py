"""The ``paperzoo simclr`` sub-commands (registered through the ``paperzoo.methods`` entry point).

Heavy imports (torch, timm, faiss) happen inside the command functions, so
``paperzoo --help`` stays fast.
"""

from __future__ import annotations

import argparse

from paperzoo.core.config import add_config_arguments, build_config
from paperzoo.simclr.config import DEFAULT_PRESET, PRESETS, EvaluateConfig, PretrainConfig

DESCRIPTION = """\
SimCLR (Chen et al., ICML 2020): pretrain an image encoder with the NT-Xent
contrastive loss on two random views of every image, then evaluate its
frozen features with a linear probe and a weighted kNN classifier, beside
the same network randomly initialised and raw pixels. The encoder is saved
so that other packages can load it as a feature extractor
(for example 'paperzoo temi fit --encoder RUN/encoder').
"""

_NOT_CONFIG = {"func", "command", "simclr_command", "verbose", "quiet"}


def _pretrain(args: argparse.Namespace) -> int:
    from paperzoo.simclr.pipeline import format_results, run_pretrain

    values = {key: value for key, value in vars(args).items() if key not in _NOT_CONFIG}
    values.setdefault("preset", DEFAULT_PRESET)
    config = build_config(PretrainConfig, values, PRESETS)
    results = run_pretrain(config)
    print(format_results(results))
    print(f"encoder saved in {results['encoder']}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from paperzoo.simclr.pipeline import format_results, run_evaluate

    values = {key: value for key, value in vars(args).items() if key not in _NOT_CONFIG}
    config = build_config(EvaluateConfig, values)
    print(format_results(run_evaluate(config)))
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``paperzoo simclr {pretrain,evaluate}``."""
    parser = commands.add_parser(
        "simclr",
        help="SimCLR: contrastive pretraining of an image encoder, with linear and kNN evaluation",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="simclr_command", metavar="ACTION", required=True)

    pretrain = actions.add_parser(
        "pretrain",
        help="pretrain an encoder, then evaluate it and the baselines",
        description=DESCRIPTION
        + f"\nThe recipe starts from the {DEFAULT_PRESET!r} preset unless --preset says otherwise.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arguments(pretrain, PretrainConfig, PRESETS, default_preset=DEFAULT_PRESET)
    pretrain.set_defaults(func=_pretrain)

    evaluate = actions.add_parser(
        "evaluate",
        help="evaluate a saved encoder (and the baselines) with kNN and a linear probe",
        description="Evaluate frozen features of a saved encoder on a labelled image data set.",
    )
    add_config_arguments(evaluate, EvaluateConfig)
    evaluate.set_defaults(func=_evaluate)
