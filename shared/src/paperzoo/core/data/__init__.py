"""Named data sets and readers for the formats users bring.

>>> from paperzoo.core.data import load_dataset
>>> digits = load_dataset("digits")
>>> digits.images.shape
(1797, 8, 8, 1)
"""

from __future__ import annotations

from paperzoo.core.data import images, text
from paperzoo.core.data.base import ImageDataset, ImageFiles, LabelledDataset, TextDataset
from paperzoo.core.data.registry import (
    DatasetInfo,
    get_dataset_info,
    list_datasets,
    load_dataset,
    register_dataset,
)
from paperzoo.core.data.resolve import DataNotFoundError, resolve_data_dir
from paperzoo.core.data.splits import train_val_split

_BUILTINS = [
    DatasetInfo("digits", "image", ("train",), images.load_digits, "scikit-learn's bundled 8x8 digits, 1,797 images"),
    DatasetInfo(
        "cifar10", "image", ("train", "test"), images.load_cifar10, "CIFAR-10, 50k + 10k 32x32 RGB", test_split="test"
    ),
    DatasetInfo(
        "fashion_mnist",
        "image",
        ("train", "test"),
        images.load_fashion_mnist,
        "Fashion-MNIST, 60k + 10k 28x28 grey",
        test_split="test",
    ),
    DatasetInfo(
        "mnist", "image", ("train", "test"), images.load_mnist, "MNIST, 60k + 10k 28x28 grey", test_split="test"
    ),
    DatasetInfo(
        "usps", "image", ("train", "test"), images.load_usps, "USPS digits, 7,291 + 2,007 16x16 grey", test_split="test"
    ),
    DatasetInfo(
        "image_folder",
        "image",
        ("train", "val", "test"),
        images.load_image_folder,
        "your own <root>/<split>/<class>/<image> folder (needs --data-dir)",
    ),
    DatasetInfo(
        "multidomain_de_en",
        "text",
        ("dev", "train", "test"),
        text.load_multidomain_de_en,
        "five-domain German-English corpus (IT, Koran, Law, Medical, Subtitles), one side",
        options={"side": (("en", "de"), "en")},
    ),
    DatasetInfo("bbc", "text", ("train",), text.load_bbc, "BBC News, 2,225 articles in 5 classes"),
    DatasetInfo(
        "text_lines",
        "text",
        ("train", "val", "test"),
        text.load_text_lines,
        "your own <label>.txt files, one example per line (needs --data-dir)",
    ),
]

for _info in _BUILTINS:
    register_dataset(_info)

__all__ = [
    "DataNotFoundError",
    "DatasetInfo",
    "ImageDataset",
    "ImageFiles",
    "LabelledDataset",
    "TextDataset",
    "get_dataset_info",
    "list_datasets",
    "load_dataset",
    "register_dataset",
    "resolve_data_dir",
    "train_val_split",
]
