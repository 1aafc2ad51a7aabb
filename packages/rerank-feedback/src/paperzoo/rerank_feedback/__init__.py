"""paperzoo-rerank-feedback: a retrieve, re-rank and ReFIT pipeline for text ranking.

>>> from paperzoo.core.data import load_dataset
>>> from paperzoo.rerank_feedback import DenseRetriever, FusionReranker, RerankPipeline
>>> data = load_dataset("scifact", split="test")
>>> pipeline = RerankPipeline(DenseRetriever("minilm"), FusionReranker()).index(data)
>>> output = pipeline.run(data.queries)
"""

from __future__ import annotations

from paperzoo.rerank_feedback.bm25 import BM25Retriever, Tokenizer
from paperzoo.rerank_feedback.dense import DenseRetriever
from paperzoo.rerank_feedback.pipeline import SYSTEMS, PipelineOutput, Ranking, RerankPipeline, rerank_top
from paperzoo.rerank_feedback.refit import RefitResult, refit_one_at_a_time, refit_queries
from paperzoo.rerank_feedback.rerankers import (
    Candidates,
    CrossEncoderReranker,
    FusionReranker,
    LTRReranker,
    Reranker,
    candidate_features,
)

__all__ = [
    "SYSTEMS",
    "BM25Retriever",
    "Candidates",
    "CrossEncoderReranker",
    "DenseRetriever",
    "FusionReranker",
    "LTRReranker",
    "PipelineOutput",
    "Ranking",
    "RefitResult",
    "RerankPipeline",
    "Reranker",
    "Tokenizer",
    "candidate_features",
    "refit_one_at_a_time",
    "refit_queries",
    "rerank_top",
]
