"""Frozen encoders, cached embeddings, kNN search and k-means."""

from __future__ import annotations

from paperzoo.core.features.embed import check_finite, embed, embedding_cache_path
from paperzoo.core.features.encoders import (
    Encoder,
    EncoderLoadError,
    ImageEncoder,
    TextEncoder,
    apply_cifar_stem,
    get_encoder,
    list_encoders,
    load_saved_encoder,
    register_encoder,
    save_encoder,
)
from paperzoo.core.features.kmeans import KMeansResult, kmeans
from paperzoo.core.features.knn import (
    build_index,
    cached_index,
    knn,
    l2_normalize,
    neighbour_label_agreement,
    search_index,
)

__all__ = [
    "Encoder",
    "EncoderLoadError",
    "ImageEncoder",
    "KMeansResult",
    "TextEncoder",
    "apply_cifar_stem",
    "build_index",
    "cached_index",
    "check_finite",
    "embed",
    "embedding_cache_path",
    "get_encoder",
    "kmeans",
    "knn",
    "l2_normalize",
    "list_encoders",
    "load_saved_encoder",
    "neighbour_label_agreement",
    "register_encoder",
    "save_encoder",
    "search_index",
]
