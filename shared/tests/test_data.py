from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from paperzoo.core.data import (
    DataNotFoundError,
    get_dataset_info,
    list_datasets,
    load_dataset,
    train_val_split,
)
from paperzoo.core.data.images import read_idx
from paperzoo.core.testing import requires_data

DATA = Path(os.environ.get("PAPERZOO_DATA", "/nonexistent"))


def test_registry_has_the_documented_names():
    for name in ("digits", "cifar10", "fashion_mnist", "mnist", "usps", "multidomain_de_en", "bbc"):
        assert name in list_datasets()


def test_unknown_dataset_lists_known_names():
    with pytest.raises(KeyError, match=r"unknown dataset 'cifar11'.*cifar10"):
        load_dataset("cifar11")


def test_unknown_split_is_rejected():
    with pytest.raises(ValueError, match="no split 'test'"):
        load_dataset("digits", split="test")


def test_digits_needs_no_files():
    digits = load_dataset("digits")
    assert digits.images.shape == (1797, 8, 8, 1)
    assert digits.images.dtype == np.uint8
    assert digits.images.max() == 255
    assert digits.num_classes == 10
    assert np.bincount(digits.labels).min() > 170


@requires_data("cifar10/test-00000-of-00001.parquet")
def test_cifar10_test_split_from_parquet():
    cifar = load_dataset("cifar10", split="test")
    assert cifar.images.shape == (10000, 32, 32, 3)
    assert np.bincount(cifar.labels).tolist() == [1000] * 10
    assert cifar.classes[0] == "airplane"
    again = load_dataset("cifar10", split="test")
    assert again.fingerprint == cifar.fingerprint
    assert np.array_equal(again.images[:5], cifar.images[:5])


@requires_data("cifar10/test-00000-of-00001.parquet")
def test_data_dir_stays_read_only(tmp_path):
    before = sorted(p.name for p in (DATA / "cifar10").iterdir())
    load_dataset("cifar10", split="test")
    assert sorted(p.name for p in (DATA / "cifar10").iterdir()) == before
    assert any((Path(os.environ["PAPERZOO_CACHE"]) / "arrays").iterdir())


@requires_data("fashion_mnist/t10k-images-idx3-ubyte.gz")
def test_fashion_mnist_idx():
    data = load_dataset("fashion_mnist", split="test")
    assert data.images.shape == (10000, 28, 28, 1)
    assert data.classes[9] == "Ankle boot"
    assert set(np.unique(data.labels)) == set(range(10))


@requires_data("mnist/t10k-images-idx3-ubyte.gz")
def test_mnist_missing_train_split_names_files_and_places(monkeypatch):
    monkeypatch.setenv("PAPERZOO_OFFLINE", "1")
    assert len(load_dataset("mnist", split="test")) == 10000
    with pytest.raises(DataNotFoundError) as error:
        load_dataset("mnist", split="train")
    message = str(error.value)
    assert "train-images-idx3-ubyte" in message
    assert "PAPERZOO_DATA" in message
    assert "offline" in message


def test_offline_error_without_data(monkeypatch, tmp_path):
    monkeypatch.setenv("PAPERZOO_DATA", str(tmp_path))
    monkeypatch.setenv("PAPERZOO_OFFLINE", "1")
    with pytest.raises(DataNotFoundError, match="uoft-cs/cifar10"):
        load_dataset("cifar10", split="test")


def test_explicit_data_dir_without_files_is_an_error(tmp_path):
    with pytest.raises(DataNotFoundError, match="--data-dir"):
        load_dataset("usps", data_dir=tmp_path)


def test_read_idx_rejects_truncated_file(tmp_path):
    path = tmp_path / "broken-idx3-ubyte.gz"
    header = bytes([0, 0, 8, 3]) + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") + (28).to_bytes(4, "big")
    with gzip.open(path, "wb") as handle:
        handle.write(header + bytes(100))
    with pytest.raises(ValueError, match="truncated"):
        read_idx(path)


@requires_data("usps/usps.h5")
def test_usps_hdf5():
    train, test = load_dataset("usps", split="train"), load_dataset("usps", split="test")
    assert train.images.shape == (7291, 16, 16, 1)
    assert len(test) == 2007
    assert train.images.max() == 255


@requires_data("multidomain_de_en/it/dev.en")
def test_multidomain_both_sides():
    english = load_dataset("multidomain_de_en", split="dev")
    german = load_dataset("multidomain_de_en", split="dev", side="de")
    assert len(english) == 10000
    assert english.classes == ["it", "koran", "law", "medical", "subtitles"]
    assert np.bincount(english.labels).tolist() == [2000] * 5
    differing = sum(a != b for a, b in zip(english.texts, german.texts))
    assert differing > 0.9 * len(english)
    assert english.fingerprint != german.fingerprint


def test_multidomain_rejects_unknown_side():
    with pytest.raises(ValueError, match="invalid side='fr'"):
        load_dataset("multidomain_de_en", split="dev", side="fr")


@requires_data("bbc-fulltext.tar.gz")
def test_bbc_tarball():
    bbc = load_dataset("bbc")
    assert len(bbc) == 2225
    assert bbc.classes == ["business", "entertainment", "politics", "sport", "tech"]
    assert all(text.strip() for text in bbc.texts)


def test_image_folder(tmp_path):
    from PIL import Image

    for label, colour in (("cats", (255, 0, 0)), ("dogs", (0, 0, 255))):
        folder = tmp_path / "train" / label
        folder.mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (40 + i, 30), colour).save(folder / f"{i}.png")
    data = load_dataset("image_folder", data_dir=tmp_path)
    assert len(data) == 6
    assert data.classes == ["cats", "dogs"]
    batch = data.batch([0, 5], size=24)
    assert batch.shape == (2, 3, 24, 24)
    assert batch[0, 0].float().mean() > 200
    assert batch[1, 2].float().mean() > 200


def test_text_lines(tmp_path):
    (tmp_path / "pos.txt").write_text("good\nfine\n\n")
    (tmp_path / "neg.txt").write_text("bad\n")
    data = load_dataset("text_lines", data_dir=tmp_path)
    assert data.classes == ["neg", "pos"]
    assert data.texts == ["bad", "good", "fine"]
    assert data.labels.tolist() == [0, 1, 1]


def test_train_val_split_is_seeded_and_stratified():
    labels = np.repeat(np.arange(4), [100, 50, 30, 20])
    train, val = train_val_split(len(labels), 0.1, seed=3, labels=labels)
    again_train, again_val = train_val_split(len(labels), 0.1, seed=3, labels=labels)
    assert np.array_equal(val, again_val)
    assert np.array_equal(train, again_train)
    assert len(np.intersect1d(train, val)) == 0
    assert len(train) + len(val) == len(labels)
    assert np.bincount(labels[val]).tolist() == [10, 5, 3, 2]
    other = train_val_split(len(labels), 0.1, seed=4, labels=labels)[1]
    assert not np.array_equal(val, other)


def test_train_val_split_rejects_bad_fraction():
    with pytest.raises(ValueError, match="val_fraction"):
        train_val_split(10, 1.5)


def test_dataset_info_test_split():
    assert get_dataset_info("cifar10").test_split == "test"
    assert get_dataset_info("digits").test_split is None
    assert get_dataset_info("multidomain_de_en").default_split == "dev"
