"""Dense bi-encoder retrieval: the core's text encoders and a cached faiss index.

Documents and queries are embedded with a frozen text encoder (mean-pooled,
as sentence-transformers does for all-MiniLM-L6-v2) and L2-normalised, so the
inner product the index computes is the cosine similarity. The corpus
embeddings and the index are cached under ``$PAPERZOO_CACHE`` and reused by
every later run on the same corpus and encoder.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from paperzoo.core.data.base import TextDataset
from paperzoo.core.features import cached_index, embed, embedding_cache_path, get_encoder, l2_normalize, search_index
from paperzoo.core.files import fingerprint_value

log = logging.getLogger(__name__)


class DenseRetriever:
    """Embed a corpus once, then search it with query vectors.

    Args:
        encoder: an encoder name for :func:`paperzoo.core.features.get_encoder`
            (``"minilm"``, ``"hf:<id or folder>"``, ...).
        encoder_weights: a local folder overriding the encoder's default weights.
        max_length: truncation length in tokens; the encoder's default when ``None``
            (256 for all-MiniLM-L6-v2).
        index: ``"flat"`` (exact) or ``"ivf"`` (approximate, for large corpora).
        nlist: IVF cells; default ``4 * sqrt(N)``.
        nprobe: IVF cells visited per query.
        batch_size: texts per encoder forward pass.
    """

    def __init__(
        self,
        encoder: str = "minilm",
        encoder_weights: str | None = None,
        max_length: int | None = None,
        index: str = "flat",
        nlist: int | None = None,
        nprobe: int = 16,
        batch_size: int | None = None,
    ):
        if index not in ("flat", "ivf"):
            raise ValueError(f"invalid index {index!r}; choose 'flat' or 'ivf'")
        self.encoder_spec = encoder
        self.encoder_weights = encoder_weights
        self.max_length = max_length
        self.index = index
        self.nlist = nlist
        self.nprobe = nprobe
        self.batch_size = batch_size
        self._encoder: Any = None

    @property
    def encoder(self) -> Any:
        """The loaded text encoder (built on first use)."""
        if self._encoder is None:
            encoder = get_encoder(self.encoder_spec, weights=self.encoder_weights)
            if encoder.modality != "text":
                raise ValueError(f"encoder {self.encoder_spec!r} embeds {encoder.modality}; dense retrieval needs text")
            if self.max_length is not None:
                encoder.max_length = self.max_length
            self._encoder = encoder
        return self._encoder

    def fit(self, corpus: TextDataset, show_progress: bool = True) -> DenseRetriever:
        """Embed ``corpus`` (cached) and build or load its index; returns self."""
        vectors = embed(corpus, self.encoder, batch_size=self.batch_size, show_progress=show_progress)
        self.doc_vectors_ = l2_normalize(np.asarray(vectors))
        key = embedding_cache_path(corpus, self.encoder).name
        self.index_ = cached_index(
            self.doc_vectors_, key, metric="ip", index=self.index, nlist=self.nlist, nprobe=self.nprobe
        )
        return self

    def encode_queries(self, queries: Sequence[str], use_cache: bool = True, show_progress: bool = False) -> np.ndarray:
        """Return ``(Q, D)`` unit-length query vectors.

        Args:
            queries: query texts.
            use_cache: read and write the embedding cache (off when timing a search).
            show_progress: show a progress bar.
        """
        dataset = TextDataset("queries", "queries", None, [], fingerprint_value(list(queries)), texts=list(queries))
        vectors = embed(
            dataset, self.encoder, batch_size=self.batch_size, use_cache=use_cache, show_progress=show_progress
        )
        return l2_normalize(np.asarray(vectors))

    def search_vectors(self, query_vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the ``k`` documents with the highest inner product per query vector.

        ``query_vectors`` need not be unit length (ReFIT's updated queries are
        not); scores are then inner products, not cosines.

        Returns:
            ``(scores, rows)``, both ``(Q, min(k, N))``, best first.
        """
        depth = min(k, len(self.doc_vectors_))
        return search_index(self.index_, np.ascontiguousarray(query_vectors, dtype=np.float32), depth, metric="ip")

    def score_rows(self, query_vectors: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Return ``(Q, K)`` inner products of each query with its documents ``rows`` (-1 rows score -inf)."""
        safe = np.where(rows >= 0, rows, 0)
        scores = np.einsum("qd,qkd->qk", query_vectors, self.doc_vectors_[safe])
        return np.where(rows >= 0, scores, -np.inf).astype(np.float32)
