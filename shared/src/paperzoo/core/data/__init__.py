"""Named data sets and readers for the formats users bring.

>>> from paperzoo.core.data import load_dataset
>>> digits = load_dataset("digits")
>>> digits.images.shape
(1797, 8, 8, 1)
"""

from __future__ import annotations

from paperzoo.core.data import graphs, images, retrieval, smart, stl10, text
from paperzoo.core.data.base import ImageDataset, ImageFiles, LabelledDataset, TextDataset
from paperzoo.core.data.graphs import GraphDataset, complete_node_splits
from paperzoo.core.data.registry import (
    DatasetInfo,
    get_dataset_info,
    list_datasets,
    load_dataset,
    register_dataset,
)
from paperzoo.core.data.resolve import DataNotFoundError, resolve_data_dir
from paperzoo.core.data.retrieval import RetrievalDataset, read_beir
from paperzoo.core.data.smart import read_smart
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
        "stl10",
        "image",
        stl10.STL10_SPLITS,
        stl10.load_stl10,
        "STL-10, 5k + 8k labelled and 100k unlabelled 96x96 RGB (publisher's binary files)",
        test_split="test",
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
    DatasetInfo(
        "scifact",
        "retrieval",
        ("train", "test"),
        retrieval.load_scifact,
        "SciFact (BEIR): 5,183 abstracts, 809 train / 300 test claims with qrels",
        test_split="test",
    ),
    DatasetInfo(
        "cranfield",
        "retrieval",
        ("test",),
        smart.load_cranfield,
        "Cranfield (SMART files): 1,400 abstracts, 225 queries, graded qrels",
        test_split="test",
    ),
    DatasetInfo(
        "beir",
        "retrieval",
        ("train", "dev", "test"),
        retrieval.load_beir,
        "any BEIR directory (--data-dir), or corpus=<name> for beir/<name> or the hub",
        options={"corpus": (None, None)},
        test_split="test",
    ),
    DatasetInfo("cora", "graph", graphs.GRAPH_SPLITS, graphs.load_cora, "Cora citation graph, 2,708 nodes, 7 classes"),
    DatasetInfo(
        "citeseer",
        "graph",
        graphs.GRAPH_SPLITS,
        graphs.load_citeseer,
        "CiteSeer citation graph, 3,327 nodes, 6 classes",
    ),
    DatasetInfo(
        "ppi",
        "graph",
        graphs.GRAPH_SPLITS,
        graphs.load_ppi,
        "PPI, 24 protein graphs, 121 labels per node (multi-label)",
    ),
    DatasetInfo(
        "reddit", "graph", graphs.GRAPH_SPLITS, graphs.load_reddit, "Reddit post graph, 232,965 nodes, 41 classes"
    ),
    DatasetInfo(
        "graph_file",
        "graph",
        graphs.GRAPH_SPLITS,
        graphs.load_graph_file,
        "your own graph: a PyG Data .pt file or a gnn-benchmark .npz (needs --data-dir)",
    ),
]

for _info in _BUILTINS:
    register_dataset(_info)

__all__ = [
    "DataNotFoundError",
    "DatasetInfo",
    "GraphDataset",
    "ImageDataset",
    "ImageFiles",
    "LabelledDataset",
    "RetrievalDataset",
    "TextDataset",
    "complete_node_splits",
    "get_dataset_info",
    "list_datasets",
    "load_dataset",
    "read_beir",
    "read_smart",
    "register_dataset",
    "resolve_data_dir",
    "train_val_split",
]
