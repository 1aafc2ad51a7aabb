"""The STL-10 binary reader, on small files written here in the publisher's layout."""

from __future__ import annotations

import numpy as np
import pytest

from paperzoo.core.data import DataNotFoundError, load_dataset
from paperzoo.core.data.stl10 import read_stl10_images


def _write_split(folder, split, images, labels=None):
    # The publisher stores each image channel by channel, each channel column by column.
    images.transpose(0, 3, 2, 1).astype(np.uint8).tofile(folder / f"{split}_X.bin")
    if labels is not None:
        (np.asarray(labels) + 1).astype(np.uint8).tofile(folder / f"{split}_y.bin")


@pytest.fixture
def stl10_folder(tmp_path):
    folder = tmp_path / "stl10_binary"
    folder.mkdir()
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (3, 96, 96, 3), dtype=np.uint8)
    train[0, 0, 1] = [10, 20, 30]  # row 0, column 1: a pixel whose position the layout must keep
    _write_split(folder, "train", train, [0, 9, 4])
    _write_split(folder, "test", rng.integers(0, 256, (2, 96, 96, 3), dtype=np.uint8), [1, 2])
    _write_split(folder, "unlabeled", rng.integers(0, 256, (4, 96, 96, 3), dtype=np.uint8))
    (folder / "class_names.txt").write_text("\n".join(f"class{i}" for i in range(10)) + "\n")
    return folder, train


def test_train_split_round_trips_pixels_and_labels(stl10_folder):
    folder, train = stl10_folder
    dataset = load_dataset("stl10", split="train", data_dir=folder)
    assert dataset.images.shape == (3, 96, 96, 3)
    np.testing.assert_array_equal(dataset.images, train)
    np.testing.assert_array_equal(dataset.images[0, 0, 1], [10, 20, 30])
    np.testing.assert_array_equal(dataset.labels, [0, 9, 4])
    assert dataset.classes[9] == "class9"


def test_unlabeled_split_has_no_labels(stl10_folder):
    folder, _ = stl10_folder
    dataset = load_dataset("stl10", split="unlabeled", data_dir=folder)
    assert dataset.labels is None
    assert len(dataset) == 4


def test_truncated_file_is_rejected(tmp_path):
    path = tmp_path / "train_X.bin"
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="not a whole number"):
        read_stl10_images(path)


def test_missing_files_name_the_source(tmp_path):
    with pytest.raises(DataNotFoundError, match="stl10_binary"):
        load_dataset("stl10", split="test", data_dir=tmp_path)
