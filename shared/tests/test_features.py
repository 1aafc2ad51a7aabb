from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from paperzoo.core.data import ImageDataset, TextDataset, load_dataset
from paperzoo.core.features import (
    EncoderLoadError,
    ImageEncoder,
    check_finite,
    embed,
    get_encoder,
    kmeans,
    knn,
    load_saved_encoder,
    save_encoder,
)
from paperzoo.core.features.encoders import apply_cifar_stem
from paperzoo.core.metrics import cluster_accuracy


def brute_force_cosine_knn(x, k):
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    return np.argsort(-similarity, axis=1, kind="stable")[:, :k]


def test_knn_matches_brute_force_and_excludes_self_in_every_batch():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 16)).astype(np.float32)
    scores, indices = knn(x, 5, query_batch=64)
    assert np.array_equal(indices, brute_force_cosine_knn(x, 5))
    assert not (indices == np.arange(300)[:, None]).any()
    assert np.all(np.diff(scores, axis=1) <= 1e-6)


def test_knn_keeps_duplicates_of_other_rows():
    x = np.array([[1, 0], [1, 0], [0, 1], [0.9, 0.1]], dtype=np.float32)
    _, indices = knn(x, 1)
    assert indices[0, 0] == 1
    assert indices[1, 0] == 0


def test_knn_rejects_k_too_large():
    with pytest.raises(ValueError, match="k must be in"):
        knn(np.eye(3, dtype=np.float32), 3)


def test_ivf_agrees_with_exact_search():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(20, 32)) * 5
    x = (centres[rng.integers(0, 20, 4000)] + rng.normal(size=(4000, 32))).astype(np.float32)
    _, exact = knn(x, 10)
    _, approx = knn(x, 10, index="ivf", nprobe=8)
    overlap = np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(exact, approx)])
    assert overlap > 0.9


def test_kmeans_recovers_separated_blobs():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 4, 800)
    directions = np.eye(4, 8) * 10
    x = (directions[labels] + rng.normal(size=(800, 8))).astype(np.float32)
    model = kmeans(x, 4, restarts=3, seed=0)
    assert cluster_accuracy(labels, model.predict(x)) == 1.0
    assert model.centroids.shape == (4, 8)


def test_kmeans_rejects_bad_k():
    with pytest.raises(ValueError, match="at least 2"):
        kmeans(np.eye(4, dtype=np.float32), 1)


def test_check_finite_names_rows():
    x = np.ones((10, 3), dtype=np.float32)
    x[7, 1] = np.nan
    with pytest.raises(ValueError, match="first rows: \\[7\\]"):
        check_finite(x)


class _MeanPool(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3)

    def forward(self, x):
        return self.conv(x).mean(dim=(2, 3))


def _toy_encoder(precision="fp32"):
    torch.manual_seed(0)
    return ImageEncoder("toy", _MeanPool(), 6, 12, [0.5] * 3, [0.5] * 3, precision=precision)


def test_embed_caches_and_matches_direct_forward():
    digits = load_dataset("digits").subset(np.arange(50))
    encoder = _toy_encoder()
    first = embed(digits, encoder, batch_size=16)
    assert isinstance(first, np.memmap)
    direct = encoder.forward(digits.batch(np.arange(50))).numpy()
    np.testing.assert_allclose(np.asarray(first), direct, rtol=1e-5, atol=1e-6)
    second = embed(digits, encoder, batch_size=7)
    assert second.filename == first.filename
    in_memory = embed(digits, encoder, use_cache=False)
    np.testing.assert_allclose(in_memory, direct, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("option", "value"), [("batch_size", -5), ("batch_size", 0), ("num_workers", -1)])
def test_embed_rejects_bad_sizes_and_writes_nothing(option, value):
    from paperzoo.core.features.embed import embedding_cache_path

    digits = load_dataset("digits").subset(np.arange(20))
    encoder = _toy_encoder()
    with pytest.raises(ValueError, match=f"got {value}"):
        embed(digits, encoder, **{option: value})
    assert not embedding_cache_path(digits, encoder).exists()


def test_bf16_embeddings_close_to_fp32():
    digits = load_dataset("digits").subset(np.arange(20))
    full = embed(digits, _toy_encoder("fp32"), use_cache=False)
    half = embed(digits, _toy_encoder("bf16"), use_cache=False)
    cosine = (full * half).sum(1) / np.linalg.norm(full, axis=1) / np.linalg.norm(half, axis=1)
    assert cosine.min() > 0.99


def test_grey_images_become_rgb_at_input_size():
    encoder = _toy_encoder()
    pixels = encoder.preprocess(torch.full((2, 1, 8, 8), 255, dtype=torch.uint8))
    assert pixels.shape == (2, 3, 12, 12)
    assert torch.allclose(pixels, torch.ones_like(pixels))


def test_efficientnet_lite0_real_weights():
    encoder = get_encoder("efficientnet_lite0")
    digits = load_dataset("digits").subset(np.arange(4))
    vectors = embed(digits, encoder, use_cache=False)
    assert vectors.shape == (4, 1280)
    assert np.isfinite(vectors).all()
    assert np.linalg.norm(vectors, axis=1).min() > 1.0


def test_minilm_mean_pooling_and_order():
    encoder = get_encoder("minilm")
    texts = ["a short one", "this sentence is clearly much longer than the first one", "mid length text"]
    data = TextDataset("toy", "train", np.zeros(3, np.int64), ["x"], "fp-minilm-test", texts=texts)
    vectors = embed(data, encoder, batch_size=2, use_cache=False)
    assert vectors.shape == (3, 384)
    tokens = encoder.tokenizer([texts[1]], return_tensors="pt")
    with torch.no_grad():
        hidden = encoder.module(**tokens).last_hidden_state[0]
    np.testing.assert_allclose(vectors[1], hidden.mean(0).numpy(), rtol=1e-4, atol=1e-5)


def test_unknown_encoder_lists_known_ones():
    with pytest.raises(KeyError, match="efficientnet_lite0"):
        get_encoder("resnet9000")


def test_timm_offline_error_is_clear(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EncoderLoadError, match="--encoder-weights"):
        get_encoder("timm:resnet18")


def test_saved_encoder_round_trip(tmp_path):
    import timm

    backbone = apply_cifar_stem(timm.create_model("resnet18", pretrained=False, num_classes=0))
    save_encoder(
        tmp_path / "enc",
        backbone,
        architecture={"library": "timm", "model_name": "resnet18", "cifar_stem": True},
        embed_dim=512,
        input_size=32,
        mean=[0.5] * 3,
        std=[0.25] * 3,
    )
    encoder = get_encoder(str(tmp_path / "enc"))
    assert isinstance(encoder, ImageEncoder)
    images = ImageDataset("t", "train", None, [], "fp-saved", images=np.zeros((2, 32, 32, 3), np.uint8))
    backbone.eval()
    expected = backbone(encoder.preprocess(images.batch([0, 1]))).detach()
    actual = load_saved_encoder(tmp_path / "enc").forward(images.batch([0, 1]))
    torch.testing.assert_close(actual, expected)
