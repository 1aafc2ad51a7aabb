"""Readers for image data sets in their publishers' formats."""

from __future__ import annotations

import gzip
import io
import logging
import os
from pathlib import Path

import numpy as np

from paperzoo.core.cache import cached_arrays
from paperzoo.core.data.base import ImageDataset, ImageFiles
from paperzoo.core.data.resolve import download_hf_dataset, download_urls, resolve_data_dir
from paperzoo.core.files import fingerprint_files, fingerprint_value

log = logging.getLogger(__name__)

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip
DIGIT_CLASSES = [str(d) for d in range(10)]
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


# --- scikit-learn digits -----------------------------------------------------


def load_digits(split: str, data_dir: str | os.PathLike | None = None) -> ImageDataset:
    """Load scikit-learn's bundled 8x8 digits (1,797 images, no download).

    Pixel values 0-16 are scaled to 0-255 uint8, one grey channel.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = np.clip(np.rint(bunch.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)[..., None]
    labels = bunch.target.astype(np.int64)
    fingerprint = fingerprint_value({"dataset": "digits", "split": split, "n": len(labels)})
    return ImageDataset("digits", split, labels, DIGIT_CLASSES, fingerprint, images=images)


# --- CIFAR-10 as Hugging Face parquet ----------------------------------------


def _decode_parquet_images(files: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    import pyarrow.parquet as pq
    from PIL import Image

    images, labels = [], []
    for file in files:
        table = pq.read_table(file)
        image_column = "img" if "img" in table.column_names else "image"
        for cell in table.column(image_column).to_pylist():
            with Image.open(io.BytesIO(cell["bytes"])) as image:
                images.append(np.asarray(image.convert("RGB")))
        labels.append(table.column("label").to_numpy().astype(np.int64))
    return np.stack(images), np.concatenate(labels)


def load_parquet_images(
    name: str, split: str, folder: Path, classes: list[str], fingerprint_extra: dict | None = None
) -> ImageDataset:
    """Decode a Hugging Face parquet split (``img``/``image`` bytes + ``label``) to arrays.

    The decoded arrays are cached, keyed by the parquet files' content hash.
    """
    files = sorted(folder.glob(f"**/{split}-*.parquet"))
    source_hash = fingerprint_files(files)
    key = {"reader": "parquet-images", "source": source_hash, **(fingerprint_extra or {})}

    def decode() -> dict[str, np.ndarray]:
        images, labels = _decode_parquet_images(files)
        return {"images": images, "labels": labels}

    arrays = cached_arrays(key, decode)
    fingerprint = fingerprint_value({"dataset": name, "split": split, "source": source_hash})
    return ImageDataset(name, split, arrays["labels"], classes, fingerprint, images=arrays["images"])


def load_cifar10(split: str, data_dir: str | os.PathLike | None = None) -> ImageDataset:
    """Load CIFAR-10 from Hugging Face parquet files (``uoft-cs/cifar10`` layout)."""
    folder = resolve_data_dir(
        "cifar10",
        "cifar10",
        [f"**/{split}-*.parquet"],
        data_dir=data_dir,
        source="the Hugging Face hub data set uoft-cs/cifar10 (parquet)",
        download=download_hf_dataset("uoft-cs/cifar10", ["plain_text/*.parquet"]),
    )
    classes_file = folder / "classes.txt"
    classes = classes_file.read_text().split() if classes_file.exists() else CIFAR10_CLASSES
    return load_parquet_images("cifar10", split, folder, classes)


# --- (Fashion-)MNIST official IDX files --------------------------------------


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) into a NumPy array.

    Raises:
        ValueError: when the magic number or the size does not match the format.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if data[2] not in dtypes:
        raise ValueError(f"{path}: unknown IDX element type 0x{data[2]:02x}")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    array = np.frombuffer(data, dtype=dtypes[data[2]], offset=offset)
    if array.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header promises shape {shape} but holds {array.size} values (truncated file?)")
    return array.reshape(shape)


def _idx_loader(name: str, source: str, urls: dict[str, str] | None, classes: list[str]):
    prefixes = {"train": "train", "test": "t10k"}

    def load(split: str, data_dir: str | os.PathLike | None = None) -> ImageDataset:
        prefix = prefixes[split]
        image_file, label_file = f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"
        split_urls = None if urls is None else {f: u for f, u in urls.items() if f.startswith(prefix)}
        folder = resolve_data_dir(
            name,
            name,
            [f"{image_file}*", f"{label_file}*"],
            data_dir=data_dir,
            source=source,
            download=None if split_urls is None else download_urls(split_urls),
        )
        image_path = min(folder.glob(f"{image_file}*"), key=lambda p: len(p.name))
        label_path = min(folder.glob(f"{label_file}*"), key=lambda p: len(p.name))
        images = read_idx(image_path)[..., None].copy()
        labels = read_idx(label_path).astype(np.int64)
        if len(images) != len(labels):
            raise ValueError(f"{name} {split}: {len(images)} images but {len(labels)} labels in {folder}")
        fingerprint = fingerprint_value(
            {"dataset": name, "split": split, "source": fingerprint_files([image_path, label_path])}
        )
        return ImageDataset(name, split, labels, classes, fingerprint, images=images)

    return load


_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_IDX_FILES = [f"{p}-{k}-idx{d}-ubyte.gz" for p in ("train", "t10k") for k, d in (("images", 3), ("labels", 1))]

load_fashion_mnist = _idx_loader(
    "fashion_mnist",
    "Zalando's Fashion-MNIST release (official IDX files)",
    {f: _FASHION_URL + f for f in _IDX_FILES},
    FASHION_MNIST_CLASSES,
)
load_mnist = _idx_loader(
    "mnist", "the MNIST database (official IDX files)", {f: _MNIST_URL + f for f in _IDX_FILES}, DIGIT_CLASSES
)


# --- USPS HDF5 ---------------------------------------------------------------


def load_usps(split: str, data_dir: str | os.PathLike | None = None) -> ImageDataset:
    """Load USPS digits from ``usps.h5`` (``<split>/data`` 256 floats in [0, 1], ``<split>/target``)."""
    import h5py

    folder = resolve_data_dir(
        "usps",
        "usps",
        ["usps.h5"],
        data_dir=data_dir,
        source="the USPS HDF5 file of Kaggle's 'bistaumanga/usps-dataset'",
    )
    path = folder / "usps.h5"
    with h5py.File(path, "r") as handle:
        if split not in handle:
            raise ValueError(f"{path} has no group {split!r}; groups: {', '.join(handle.keys())}")
        data = np.asarray(handle[split]["data"], dtype=np.float32)
        labels = np.asarray(handle[split]["target"], dtype=np.int64)
    side = round(float(np.sqrt(data.shape[1])))
    images = np.clip(np.rint(data.reshape(-1, side, side, 1) * 255.0), 0, 255).astype(np.uint8)
    fingerprint = fingerprint_value({"dataset": "usps", "split": split, "source": fingerprint_files([path])})
    return ImageDataset("usps", split, labels, DIGIT_CLASSES, fingerprint, images=images)


# --- image folders -----------------------------------------------------------


def load_image_folder(
    split: str, data_dir: str | os.PathLike | None = None, name: str = "image_folder"
) -> ImageDataset:
    """Load an ImageNet-style folder: ``<root>/<split>/<class>/<image>``.

    When ``<root>/<split>`` does not exist and ``split`` is ``"train"``, the
    class folders are read from ``<root>`` itself. Images stay on disk and are
    decoded on access (see :class:`ImageFiles`).
    """
    if data_dir is None:
        raise ValueError(f"dataset {name!r} needs --data-dir pointing at a folder of class sub-folders")
    root = Path(data_dir).expanduser()
    base = root / split
    if not base.is_dir():
        if split != "train":
            raise FileNotFoundError(f"image folder {root} has no {split!r} sub-folder")
        base = root
    class_dirs = sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise FileNotFoundError(f"image folder {base} holds no class sub-folders")
    paths, labels = [], []
    for label, class_dir in enumerate(class_dirs):
        for file in sorted(class_dir.rglob("*")):
            if file.suffix.lower() in IMAGE_SUFFIXES:
                paths.append(file)
                labels.append(label)
    if not paths:
        raise FileNotFoundError(f"image folder {base} holds no images with suffixes {sorted(IMAGE_SUFFIXES)}")
    fingerprint = fingerprint_value(
        {"dataset": name, "split": split, "files": [f"{p.relative_to(base)}:{p.stat().st_size}" for p in paths]}
    )
    return ImageDataset(
        name, split, np.asarray(labels, np.int64), [p.name for p in class_dirs], fingerprint, images=ImageFiles(paths)
    )
