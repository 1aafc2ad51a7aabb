"""Configs of the ``evaluate`` and ``train-reranker`` commands.

This module imports neither torch nor numpy, so ``paperzoo --help`` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from paperzoo.core.config import option, presets_in

PRESETS = presets_in(Path(__file__).parent / "presets")
DEFAULT_PRESET = "cpu-small"
RERANKERS = ("ltr", "fusion", "rrf", "cross-encoder")
DEFAULT_CROSS_ENCODER = "cross-encoder/ms-marco-MiniLM-L-6-v2"


@dataclass
class DataOptions:
    """Data options: the collection and how much of it a run uses."""

    CLI_GROUP: ClassVar[str] = "data"

    dataset: str = option("scifact", "a registered retrieval data set: scifact, cranfield or beir")
    data_dir: str | None = option(None, "folder holding the data set's files (default: PAPERZOO_DATA or the cache)")
    corpus: str | None = option(None, "for --dataset beir: the BEIR corpus name, e.g. nfcorpus")
    corpus_sample: int | None = option(
        None,
        "keep the documents judged for the queries in use plus random others, N documents in all (smoke tests; "
        "metrics are then higher than on the full corpus); evaluate keeps the training split's judged documents "
        "too when the data set has that split, whatever the re-ranker; none = the whole corpus",
    )
    seed: int = option(0, "seed of the validation split and the corpus sample")

    def __post_init__(self) -> None:
        if self.corpus_sample is not None and self.corpus_sample < 1:
            raise ValueError(f"corpus_sample must be at least 1 or none, got {self.corpus_sample}")


@dataclass
class RetrieverOptions:
    """First-stage options: BM25 and the dense bi-encoder."""

    CLI_GROUP: ClassVar[str] = "first-stage retrieval (BM25 and dense)"

    retriever: str = option("minilm", "dense encoder (see 'paperzoo encoders'): minilm, hf:<id or folder>, ...")
    encoder_weights: str | None = option(None, "local weights folder for the dense encoder")
    max_length: int | None = option(None, "dense encoder truncation in tokens; none = the encoder's default (256)")
    embed_batch_size: int | None = option(None, "texts per encoder forward pass")
    index: str = option("flat", "faiss index: flat (exact) or ivf (approximate)", choices=("flat", "ivf"))
    nlist: int | None = option(None, "IVF cells; none = 4 * sqrt(number of documents)")
    nprobe: int = option(16, "IVF cells visited per query")
    bm25_k1: float = option(1.2, "BM25 k1 (term-frequency saturation)")
    bm25_b: float = option(0.75, "BM25 b (length normalisation)")

    def __post_init__(self) -> None:
        for name in ("max_length", "embed_batch_size", "nlist"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1 or none, got {value}")
        if self.nprobe < 1:
            raise ValueError(f"nprobe must be at least 1, got {self.nprobe}")
        if self.bm25_k1 < 0:
            raise ValueError(f"bm25_k1 must be >= 0, got {self.bm25_k1}; Lucene's default is 1.2")
        if not 0.0 <= self.bm25_b <= 1.0:
            raise ValueError(f"bm25_b must be in [0, 1], got {self.bm25_b}; Lucene's default is 0.75")


@dataclass
class EvaluateConfig(DataOptions, RetrieverOptions):
    """Everything ``paperzoo rerank-feedback evaluate`` needs."""

    CLI_GROUP: ClassVar[str] = "re-ranking, ReFIT and evaluation"

    split: str | None = option(None, "split to evaluate on (default: the data set's test split)")
    max_queries: int | None = option(
        None,
        "evaluate only the first N queries, and train the ltr re-ranker on the first N training queries "
        "(smoke tests); none = all",
    )
    train_split: str = option("train", "split whose qrels train the ltr re-ranker")
    reranker: str = option("ltr", "re-ranker of the dense top-k", choices=RERANKERS)
    reranker_model: str | None = option(
        None, f"for --reranker cross-encoder: a hub id or folder (default: {DEFAULT_CROSS_ENCODER})"
    )
    reranker_max_length: int = option(256, "cross-encoder truncation of the (query, document) pair in tokens")
    reranker_batch_size: int = option(64, "cross-encoder pairs per forward pass")
    ltr_c: list[float] = option([0.01, 0.1, 1.0, 10.0], "ltr: inverse regularisation strengths tried on validation")
    fusion_weight: float = option(0.5, "fusion: the dense share of min-max fusion, in [0, 1]")
    rrf_k: float = option(60.0, "rrf: the reciprocal-rank-fusion constant")
    val_fraction: float = option(0.2, "share of the training queries held out to choose the ltr regularisation")
    k: int = option(100, "candidates re-ranked, and ReFIT's top-K")
    depth: int = option(1000, "retrieval depth of every first-stage and second-stage run")
    refit_steps: int = option(100, "ReFIT Adam steps per query")
    refit_lr: float = option(0.005, "ReFIT Adam learning rate")
    refit_lambda_scale: float = option(0.5, "ReFIT's factor on the ratio of re-ranker to retriever score ranges")
    refit_batch_size: int = option(512, "queries updated together by ReFIT (results do not depend on it)")
    significance_trials: int = option(10000, "sign-flip trials of the paired randomisation test")
    save_run_depth: int = option(100, "documents per query written to each TREC run file")
    output_dir: str | None = option(None, "run directory (default: runs/rerank-feedback/<time>-<dataset>)")
    preset: str | None = option(None, "the preset this config started from", cli=False)

    def __post_init__(self) -> None:
        DataOptions.__post_init__(self)
        RetrieverOptions.__post_init__(self)
        names = ("k", "depth", "refit_batch_size", "significance_trials", "save_run_depth")
        for name in (*names, "reranker_max_length", "reranker_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.k > self.depth:
            raise ValueError(
                f"k={self.k} exceeds depth={self.depth}; re-ranked candidates come from the retrieved list"
            )
        if self.refit_steps < 0:
            raise ValueError(f"refit_steps must be >= 0, got {self.refit_steps}")
        if self.refit_lr <= 0:
            raise ValueError(f"refit_lr must be positive, got {self.refit_lr}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if self.max_queries is not None and self.max_queries < 1:
            raise ValueError(f"max_queries must be at least 1 or none, got {self.max_queries}")
        if not self.ltr_c or min(self.ltr_c) <= 0:
            raise ValueError(f"ltr_c must list positive values, got {self.ltr_c}")
        # Checked whatever the re-ranker, so a value that would be rejected with --reranker fusion or rrf
        # is never saved silently in config.yaml.
        if not 0.0 <= self.fusion_weight <= 1.0:
            raise ValueError(
                f"fusion_weight must be in [0, 1] (the dense share of the fusion), got {self.fusion_weight}"
            )
        if self.rrf_k <= 0:
            raise ValueError(
                f"rrf_k must be positive, got {self.rrf_k}; reciprocal rank fusion adds it to every rank "
                "(60 is the usual value)"
            )
        if self.refit_lambda_scale <= 0:
            raise ValueError(f"refit_lambda_scale must be positive, got {self.refit_lambda_scale}")


@dataclass
class TrainRerankerConfig(DataOptions, RetrieverOptions):
    """Everything ``paperzoo rerank-feedback train-reranker`` needs."""

    CLI_GROUP: ClassVar[str] = "cross-encoder training"

    base_model: str | None = option(
        None, "bi-encoder checkpoint the cross-encoder starts from (hub id or folder); none = the installed MiniLM"
    )
    train_split: str = option("train", "split whose qrels give the positive pairs")
    negatives: int = option(7, "hard negatives per positive pair, drawn from the dense top --negative-depth")
    negative_depth: int = option(50, "how deep in the dense ranking hard negatives are drawn from")
    max_train_queries: int | None = option(None, "train on the first N training queries only; none = all")
    val_fraction: float = option(0.1, "share of the training queries held out for validation")
    pair_max_length: int = option(256, "cross-encoder truncation of the (query, document) pair in tokens")
    batch_size: int = option(8, "positive pairs per optimiser step (each with its negatives)")
    epochs: float = option(2.0, "passes over the positive pairs")
    max_steps: int | None = option(None, "stop after this many optimiser steps; none = from epochs")
    lr: float = option(3e-5, "AdamW peak learning rate")
    weight_decay: float = option(0.01, "AdamW weight decay")
    warmup_fraction: float = option(0.1, "share of steps with a linear learning-rate warm-up")
    mixed_precision: str = option("no", "'no', 'bf16' or 'fp16' (GPU)", choices=("no", "bf16", "fp16"))
    checkpoint_every: int = option(200, "optimiser steps between checkpoints (0 = only at the end)")
    eval_k: int = option(100, "dense candidates re-ranked when validating")
    output_dir: str | None = option(None, "run directory (default: runs/rerank-feedback/<time>-train-<dataset>)")
    preset: str | None = option(None, "the preset this config started from", cli=False)

    def __post_init__(self) -> None:
        DataOptions.__post_init__(self)
        RetrieverOptions.__post_init__(self)
        for name in ("negatives", "negative_depth", "pair_max_length", "batch_size", "eval_k"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.negatives >= self.negative_depth:
            raise ValueError(f"negatives={self.negatives} must be smaller than negative_depth={self.negative_depth}")
        if self.epochs <= 0:
            raise ValueError(f"epochs must be positive, got {self.epochs}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")


# Options that may change between a run and its resumption without making it another run.
RESUME_IGNORED = ("output_dir", "data_dir", "embed_batch_size", "reranker_batch_size", "refit_batch_size")
