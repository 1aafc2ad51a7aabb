"""STL-10 in its publisher's binary format (``stl10_binary/``).

The archive from the STL-10 page (Coates, Lee and Ng, AISTATS 2011) contains
``train_X.bin`` (5,000 images), ``test_X.bin`` (8,000), ``unlabeled_X.bin``
(100,000), the matching ``*_y.bin`` label files (one byte per image, 1 to
10) and ``class_names.txt``. Each image is 96x96x3 bytes stored channel by
channel, each channel column by column.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from paperzoo.core.data.base import ImageDataset
from paperzoo.core.data.resolve import resolve_data_dir
from paperzoo.core.files import fingerprint_files, fingerprint_value

STL10_SIDE = 96
STL10_CLASSES = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]
STL10_SPLITS = ("train", "test", "unlabeled")
STL10_SOURCE = "the STL-10 binary archive stl10_binary.tar.gz from https://cs.stanford.edu/~acoates/stl10/"


def read_stl10_images(path: str | os.PathLike) -> np.ndarray:
    """Read an STL-10 ``*_X.bin`` file as ``(N, 96, 96, 3)`` uint8 (memory-mapped, read-only).

    Raises:
        ValueError: when the file size is not a whole number of images.
    """
    path = Path(path)
    image_bytes = 3 * STL10_SIDE * STL10_SIDE
    size = path.stat().st_size
    if size == 0 or size % image_bytes:
        raise ValueError(f"{path} has {size} bytes, not a whole number of 96x96x3 STL-10 images ({image_bytes} bytes)")
    raw = np.memmap(path, dtype=np.uint8, mode="r", shape=(size // image_bytes, 3, STL10_SIDE, STL10_SIDE))
    # Stored as (channel, column, row): transposing gives (row, column, channel).
    return raw.transpose(0, 3, 2, 1)


def read_stl10_labels(path: str | os.PathLike) -> np.ndarray:
    """Read an STL-10 ``*_y.bin`` file as ``(N,)`` int64 labels in 0..9.

    Raises:
        ValueError: for a label outside 1..10 in the file.
    """
    labels = np.fromfile(path, dtype=np.uint8).astype(np.int64)
    if labels.size and (labels.min() < 1 or labels.max() > 10):
        raise ValueError(f"{path} contains invalid labels outside 1..10 (min {labels.min()}, max {labels.max()})")
    return labels - 1


def load_stl10(split: str, data_dir: str | os.PathLike | None = None) -> ImageDataset:
    """Load one STL-10 split; ``unlabeled`` has no labels.

    Images are copied into memory (the train split is 138 MB, test 221 MB,
    unlabeled 2.8 GB).
    """
    if split not in STL10_SPLITS:
        raise ValueError(f"STL-10 has no split {split!r}; choose one of {', '.join(STL10_SPLITS)}")
    files = [f"{split}_X.bin"] + ([] if split == "unlabeled" else [f"{split}_y.bin"])
    folder = resolve_data_dir("stl10", "stl10_binary", files, data_dir=data_dir, source=STL10_SOURCE)
    images = np.ascontiguousarray(read_stl10_images(folder / files[0]))
    labels = None if split == "unlabeled" else read_stl10_labels(folder / files[1])
    if labels is not None and len(labels) != len(images):
        raise ValueError(
            f"{folder} contains {len(images)} {split} images but {len(labels)} labels; the files do not match"
        )
    names_file = folder / "class_names.txt"
    classes = names_file.read_text().split() if names_file.is_file() else STL10_CLASSES
    fingerprint = fingerprint_value(
        {"dataset": "stl10", "split": split, "source": fingerprint_files([folder / name for name in files])}
    )
    return ImageDataset("stl10", split, labels, classes, fingerprint, images=images)
