"""Readers for labelled text corpora."""

from __future__ import annotations

import os
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from paperzoo.core.data.base import TextDataset
from paperzoo.core.data.resolve import download_urls, resolve_data_dir
from paperzoo.core.files import fingerprint_files, fingerprint_value

MULTIDOMAIN_DOMAINS = ["it", "koran", "law", "medical", "subtitles"]


def decode_text(raw: bytes) -> str:
    """Decode UTF-8, falling back to Latin-1 for legacy files (never fails)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def read_lines(path: Path) -> list[str]:
    """Return the lines of ``path`` without line endings, keeping empty lines."""
    return decode_text(path.read_bytes()).splitlines()


def load_labelled_lines(
    name: str, split: str, files_by_label: dict[str, Path], *, skip_empty: bool = True
) -> TextDataset:
    """Build a data set where each line of each file is one example.

    Args:
        name: registry name for the result.
        split: split name for the result.
        files_by_label: class name to the file holding that class's lines;
            labels are numbered in the order of this mapping.
        skip_empty: drop blank lines (a blank line is not a sentence).
    """
    texts: list[str] = []
    labels: list[int] = []
    for label, path in enumerate(files_by_label.values()):
        for line in read_lines(path):
            if skip_empty and not line.strip():
                continue
            texts.append(line)
            labels.append(label)
    fingerprint = fingerprint_value(
        {"dataset": name, "split": split, "source": fingerprint_files(files_by_label.values())}
    )
    return TextDataset(name, split, np.asarray(labels, np.int64), list(files_by_label), fingerprint, texts=texts)


def load_multidomain_de_en(split: str, data_dir: str | os.PathLike | None = None, side: str = "en") -> TextDataset:
    """Load the five-domain German-English corpus, one side, one split.

    The layout is ``<domain>/<split>.<side>`` with one sentence per line; the
    label is the domain folder (IT, Koran, Law, Medical, Subtitles). Blank
    lines are dropped, so line ``i`` of the German and English files align
    only while neither side has blank lines.
    """
    folder = resolve_data_dir(
        "multidomain_de_en",
        "multidomain_de_en",
        [f"{domain}/{split}.{side}" for domain in MULTIDOMAIN_DOMAINS],
        data_dir=data_dir,
        source="the multi-domain corpus of Aharoni & Goldberg (ACL 2020), built from OPUS",
    )
    files = {domain: folder / domain / f"{split}.{side}" for domain in MULTIDOMAIN_DOMAINS}
    dataset = load_labelled_lines("multidomain_de_en", split, files)
    dataset.fingerprint = fingerprint_value({"base": dataset.fingerprint, "side": side})
    return dataset


def _iter_archive(path: Path) -> Iterator[tuple[str, bytes]]:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.is_dir():
                    yield info.filename, archive.read(info)
        return
    with tarfile.open(path) as archive:
        for member in archive:
            if member.isfile():
                handle = archive.extractfile(member)
                if handle is not None:
                    yield member.name, handle.read()


def read_class_folders(source: Path) -> dict[str, list[tuple[str, str]]]:
    """Read ``<class>/<document>.txt`` files from a folder, tarball or zip.

    The class is the name of the folder directly above each ``.txt`` file.
    Files in a folder that itself contains class folders (such as the
    archive's top-level README) are skipped.

    Returns:
        class name to a list of ``(relative path, text)``, classes and files sorted.
    """
    if source.is_dir():
        entries = [(str(p.relative_to(source)), p.read_bytes()) for p in sorted(source.rglob("*")) if p.is_file()]
    else:
        entries = list(_iter_archive(source))
    texts = [(Path(member), raw) for member, raw in entries if member.lower().endswith(".txt")]
    texts = [(member, raw) for member, raw in texts if not member.name.startswith(".")]
    parents = {member.parent for member, _ in texts}
    documents: dict[str, list[tuple[str, str]]] = {}
    for member, raw in texts:
        if any(member.parent in other.parents for other in parents):
            continue
        documents.setdefault(member.parent.name, []).append((str(member), decode_text(raw)))
    return {label: sorted(docs) for label, docs in sorted(documents.items())}


def load_bbc(split: str, data_dir: str | os.PathLike | None = None) -> TextDataset:
    """Load BBC News (2,225 articles, 5 classes) from the publisher's archive.

    ``data_dir`` may name the archive (``bbc-fulltext.tar.gz`` or
    ``bbc-fulltext.zip``), the folder holding it, or the extracted folder with
    one sub-folder per class. Each example is a whole article (title line and
    body), whitespace collapsed.
    """
    explicit = None if data_dir is None else Path(data_dir).expanduser()
    if explicit is not None and (explicit.is_file() or (explicit / "business").is_dir()):
        source = explicit
    else:
        folder = resolve_data_dir(
            "bbc",
            ".",
            ["bbc-fulltext.*"],
            data_dir=explicit,
            source="the BBC News data set of Greene & Cunningham (2006), mlg.ucd.ie/datasets/bbc.html",
            download=download_urls({"bbc-fulltext.zip": "http://mlg.ucd.ie/files/datasets/bbc-fulltext.zip"}),
        )
        source = sorted(folder.glob("bbc-fulltext.*"))[0]
    by_class = read_class_folders(source)
    if not by_class:
        raise ValueError(f"no <class>/<article>.txt files found in {source}")
    texts, labels = [], []
    for label, docs in enumerate(by_class.values()):
        for _, text in docs:
            texts.append(" ".join(text.split()))
            labels.append(label)
    source_hash = fingerprint_files([source]) if source.is_file() else fingerprint_value(texts)
    fingerprint = fingerprint_value({"dataset": "bbc", "split": split, "source": source_hash})
    return TextDataset("bbc", split, np.asarray(labels, np.int64), list(by_class), fingerprint, texts=texts)


def load_text_lines(split: str, data_dir: str | os.PathLike | None = None, name: str = "text_lines") -> TextDataset:
    """Load a user corpus of ``<label>.txt`` or ``<label>/<split>.txt`` files, one example per line."""
    if data_dir is None:
        raise ValueError(
            f"dataset {name!r} needs --data-dir pointing at <label>.txt files or <label>/<split>.txt folders"
        )
    root = Path(data_dir).expanduser()
    files = {p.parent.name: p for p in sorted(root.glob(f"*/{split}.txt"))}
    if not files and split == "train":
        files = {p.stem: p for p in sorted(root.glob("*.txt"))}
    if not files:
        raise FileNotFoundError(f"no <label>/{split}.txt files (nor <label>.txt for split 'train') in {root}")
    return load_labelled_lines(name, split, files)
