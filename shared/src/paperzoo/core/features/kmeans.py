"""k-means with several restarts (faiss), the baseline of every clustering method."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from paperzoo.core.features.knn import _faiss, l2_normalize


@dataclass
class KMeansResult:
    """A fitted k-means model.

    Attributes:
        centroids: ``(K, D)`` float32 centroids.
        inertia: sum of squared distances of the training rows to their centroid.
        normalize: whether inputs are L2-normalised before assignment.
    """

    centroids: np.ndarray
    inertia: float
    normalize: bool

    def predict(self, vectors: np.ndarray) -> np.ndarray:
        """Return the index of the nearest centroid for each row."""
        faiss = _faiss()
        data = l2_normalize(vectors) if self.normalize else np.ascontiguousarray(vectors, dtype=np.float32)
        index = faiss.IndexFlatL2(self.centroids.shape[1])
        index.add(self.centroids)
        _, assigned = index.search(data, 1)
        return assigned[:, 0].astype(np.int64)


def kmeans(
    vectors: np.ndarray,
    num_clusters: int,
    *,
    restarts: int = 10,
    iterations: int = 100,
    seed: int = 0,
    normalize: bool = True,
) -> KMeansResult:
    """Fit k-means, keeping the restart with the lowest inertia.

    Every row takes part in training (faiss otherwise subsamples to 256 rows
    per centroid).

    Args:
        vectors: ``(N, D)`` data.
        num_clusters: K, at least 2 and at most N.
        restarts: independent initialisations (faiss ``nredo``).
        iterations: Lloyd iterations per restart.
        seed: seed of the initialisations.
        normalize: L2-normalise rows first (k-means on the unit sphere's
            chordal distance, the usual baseline for cosine embeddings).
    """
    faiss = _faiss()
    if num_clusters < 2:
        raise ValueError(f"num_clusters must be at least 2, got {num_clusters}")
    if num_clusters > len(vectors):
        raise ValueError(f"num_clusters={num_clusters} exceeds the number of rows ({len(vectors)})")
    data = l2_normalize(vectors) if normalize else np.ascontiguousarray(vectors, dtype=np.float32)
    model = faiss.Kmeans(
        data.shape[1],
        num_clusters,
        niter=iterations,
        nredo=restarts,
        seed=seed,
        max_points_per_centroid=len(data) // num_clusters + 1,
        min_points_per_centroid=1,
        verbose=False,
    )
    model.train(data)
    index = faiss.IndexFlatL2(data.shape[1])
    index.add(model.centroids)
    distances, _ = index.search(data, 1)
    return KMeansResult(np.array(model.centroids, dtype=np.float32), float(distances.sum()), normalize)
