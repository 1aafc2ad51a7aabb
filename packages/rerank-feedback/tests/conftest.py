"""Fixtures of the rerank-feedback tests: an isolated cache and a tiny synthetic BEIR collection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Give the test session its own cache so tests never see a stale user cache."""
    monkeypatch.setenv("PAPERZOO_CACHE", str(tmp_path_factory.getbasetemp() / "paperzoo-cache"))
    monkeypatch.setenv("PAPERZOO_NO_PROGRESS", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def toy_beir(tmp_path_factory) -> Path:
    """A BEIR directory of 20 short documents on 6 topics, 6 train and 6 test queries."""
    return write_beir(tmp_path_factory.mktemp("beir") / "toy")


TOPICS = {
    "cats": [
        "cats purr when content",
        "a cat sleeps most of the day",
        "kittens are young cats",
        "cats groom their fur",
    ],
    "rockets": ["rockets burn fuel to climb", "a rocket engine produces thrust", "orbital rockets need stages"],
    "bread": ["bread rises because of yeast", "sourdough bread uses a starter", "bake bread in a hot oven"],
    "rivers": ["rivers carry water to the sea", "a river delta forms from sediment", "floods happen when rivers rise"],
    "chess": ["chess openings control the centre", "a chess endgame needs precise play", "grandmasters study chess"],
    "volcanoes": [
        "volcanoes erupt molten lava",
        "a volcano can be dormant for centuries",
        "ash clouds follow eruptions",
    ],
}
QUERIES = {
    "cats": ["why do cats purr", "how long do cats sleep"],
    "rockets": ["how do rockets reach orbit", "what gives a rocket thrust"],
    "bread": ["why does bread rise", "how is sourdough made"],
    "rivers": ["where do rivers flow", "what causes river floods"],
    "chess": ["how to play a chess endgame", "best chess openings"],
    "volcanoes": ["why do volcanoes erupt", "what is a dormant volcano"],
}


def write_beir(folder: Path) -> Path:
    """Write corpus.jsonl, queries.jsonl and qrels/{train,test}.tsv; queries judge their topic's documents."""
    folder.mkdir(parents=True, exist_ok=True)
    corpus, by_topic = [], {}
    for topic, texts in TOPICS.items():
        for i, text in enumerate(texts):
            doc_id = f"{topic}-{i}"
            corpus.append({"_id": doc_id, "title": topic, "text": text})
            by_topic.setdefault(topic, []).append(doc_id)
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus))
    queries, qrels = [], {"train": [], "test": []}
    for topic, texts in QUERIES.items():
        for i, text in enumerate(texts):
            query_id = f"{topic}-q{i}"
            queries.append({"_id": query_id, "text": text})
            split = "train" if i == 0 else "test"
            for j, doc_id in enumerate(by_topic[topic]):
                qrels[split].append(f"{query_id}\t{doc_id}\t{2 if j == i else 1}")
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (folder / "qrels").mkdir(exist_ok=True)
    for split, lines in qrels.items():
        (folder / "qrels" / f"{split}.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(lines) + "\n")
    return folder
