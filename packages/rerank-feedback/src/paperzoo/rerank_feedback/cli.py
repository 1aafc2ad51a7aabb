"""The ``paperzoo rerank-feedback`` sub-commands (registered through the ``paperzoo.methods`` entry point).

Heavy imports (torch, faiss, transformers) happen inside the command
functions, so ``paperzoo --help`` stays fast.
"""

from __future__ import annotations

import argparse

from paperzoo.core.config import add_config_arguments, build_config
from paperzoo.rerank_feedback.config import DEFAULT_PRESET, PRESETS, EvaluateConfig, TrainRerankerConfig

DESCRIPTION = """\
A text-ranking pipeline with ReFIT (Reddy et al., 2023): BM25 and a dense
bi-encoder retrieve, a re-ranker re-orders the dense top-k, and ReFIT moves
each query vector towards the re-ranker's scores before retrieving again.
'evaluate' scores bm25, dense, dense+rerank, refit and refit+rerank on a
collection's test queries; 'train-reranker' fine-tunes a cross-encoder on a
collection's training qrels.
"""

_NOT_CONFIG = {"func", "command", "rerank_feedback_command", "verbose", "quiet"}


def _values(args: argparse.Namespace) -> dict:
    values = {key: value for key, value in vars(args).items() if key not in _NOT_CONFIG}
    values.setdefault("preset", DEFAULT_PRESET)
    return values


def _evaluate(args: argparse.Namespace) -> int:
    from paperzoo.rerank_feedback.evaluate import format_results, run_evaluate

    config = build_config(EvaluateConfig, _values(args), PRESETS)
    results = run_evaluate(config)
    print(format_results(results))
    return 0


def _train_reranker(args: argparse.Namespace) -> int:
    from paperzoo.rerank_feedback.train_reranker import run_train_reranker

    values = _values(args)
    values.pop("preset", None)
    config = build_config(TrainRerankerConfig, values)
    results = run_train_reranker(config)
    metrics = results["metrics"]
    print(
        f"{results['evaluated_on']}: nDCG@10 dense {metrics['dense']['ndcg@10']:.4f}, "
        f"re-ranked by the cross-encoder {metrics['dense+cross-encoder']['ndcg@10']:.4f}"
    )
    print(
        f"model saved in {results['model']}; use it with --reranker cross-encoder --reranker-model {results['model']}"
    )
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``paperzoo rerank-feedback {evaluate,train-reranker}``."""
    parser = commands.add_parser(
        "rerank-feedback",
        help="ReFIT: retrieve, re-rank and update the query from the re-ranker's feedback",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="rerank_feedback_command", metavar="ACTION", required=True)

    evaluate = actions.add_parser(
        "evaluate",
        help="score bm25, dense, dense+rerank, refit and refit+rerank on a collection",
        description=DESCRIPTION
        + f"\nOptions start from the {DEFAULT_PRESET!r} preset unless --preset selects another.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arguments(evaluate, EvaluateConfig, PRESETS)
    evaluate.set_defaults(func=_evaluate)

    train = actions.add_parser(
        "train-reranker",
        help="fine-tune a cross-encoder from a bi-encoder checkpoint on training qrels with hard negatives",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arguments(train, TrainRerankerConfig)
    train.set_defaults(func=_train_reranker)
