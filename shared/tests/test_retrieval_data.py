from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from paperzoo.core.data import get_dataset_info, list_datasets, load_dataset, read_beir, read_smart
from paperzoo.core.data.smart import cranfield_grade, parse_smart
from paperzoo.core.testing import requires_data

DATA = Path(os.environ.get("PAPERZOO_DATA", "/nonexistent"))


def write_beir(folder: Path, corpus, queries, qrels: str, split: str = "test") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus))
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (folder / "qrels").mkdir(exist_ok=True)
    (folder / "qrels" / f"{split}.tsv").write_text("query-id\tcorpus-id\tscore\n" + qrels)
    return folder


CORPUS = [
    {"_id": "d1", "title": "Cats", "text": "cats purr"},
    {"_id": "d2", "title": "", "text": "dogs bark"},
    {"_id": "d3", "title": "Birds", "text": "birds sing"},
]
QUERIES = [{"_id": "q1", "text": "purring"}, {"_id": "q2", "text": "barking"}, {"_id": "q3", "text": "unjudged"}]


def test_beir_reader_keeps_judged_queries(tmp_path):
    data = read_beir(write_beir(tmp_path, CORPUS, QUERIES, "q1\td1\t1\nq2\td2\t2\nq2\td3\t0\n"), "test")
    assert data.doc_ids == ["d1", "d2", "d3"]
    assert data.query_ids == ["q1", "q2"]
    assert data.qrels == {"q1": {"d1": 1}, "q2": {"d2": 2, "d3": 0}}
    assert data.document_texts() == ["Cats cats purr", "dogs bark", "Birds birds sing"]
    assert data.dropped == {}


def test_unknown_ids_in_qrels_are_counted_and_dropped(tmp_path, caplog):
    qrels = "q1\td1\t1\nq1\tmissing-doc\t1\nq9\td2\t1\nq2\td2\t1\nq2\tother-missing\t1\n"
    with caplog.at_level(logging.WARNING):
        data = read_beir(write_beir(tmp_path, CORPUS, QUERIES, qrels), "test")
    assert data.qrels == {"q1": {"d1": 1}, "q2": {"d2": 1}}
    assert data.dropped == {"qrels_unknown_query": 1, "qrels_unknown_document": 2}
    assert "dropped 1 judgement(s) naming 1 unknown query id(s)" in caplog.text
    assert "2 judgement(s) naming 2 unknown document id(s)" in caplog.text


def test_empty_queries_are_dropped_with_a_warning(tmp_path, caplog):
    queries = [{"_id": "q1", "text": "  "}, {"_id": "q2", "text": "barking"}]
    with caplog.at_level(logging.WARNING):
        data = read_beir(write_beir(tmp_path, CORPUS, queries, "q1\td1\t1\nq2\td2\t1\n"), "test")
    assert data.query_ids == ["q2"]
    assert data.dropped == {"empty_queries": 1}
    assert "1 quer(ies) with empty text" in caplog.text


def test_identical_duplicate_document_is_kept_once(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        data = read_beir(write_beir(tmp_path, [*CORPUS, CORPUS[0]], QUERIES, "q1\td1\t1\n"), "test")
    assert data.doc_ids == ["d1", "d2", "d3"]
    assert data.dropped == {"duplicate_documents": 1}
    assert "repeat an earlier id" in caplog.text


def test_conflicting_duplicate_document_is_an_error(tmp_path):
    corpus = [*CORPUS, {"_id": "d2", "title": "", "text": "a different text"}]
    with pytest.raises(ValueError, match=r"document id 'd2' appears twice with different content.*line 2.*line 4"):
        read_beir(write_beir(tmp_path, corpus, QUERIES, "q1\td1\t1\n"), "test")


def test_gzipped_files_and_trec_qrels_are_read(tmp_path):
    import gzip

    folder = write_beir(tmp_path, CORPUS, QUERIES, "")
    for name in ("corpus.jsonl", "queries.jsonl"):
        with gzip.open(folder / f"{name}.gz", "wt") as handle:
            handle.write((folder / name).read_text())
        (folder / name).unlink()
    (folder / "qrels" / "test.tsv").write_text("q1 0 d1 1\nq2 0 d2 1\n")
    data = read_beir(folder, "test")
    assert data.qrels == {"q1": {"d1": 1}, "q2": {"d2": 1}}


def test_missing_split_names_the_available_ones(tmp_path):
    with pytest.raises(FileNotFoundError, match="qrels splits present: test"):
        read_beir(write_beir(tmp_path, CORPUS, QUERIES, "q1\td1\t1\n"), "train")


def test_subsets_keep_consistent_qrels(tmp_path):
    data = read_beir(write_beir(tmp_path, CORPUS, QUERIES, "q1\td1\t1\nq2\td2\t1\nq2\td3\t1\n"), "test")
    assert data.subset_queries(["q2"]).qrels == {"q2": {"d2": 1, "d3": 1}}
    smaller = data.subset_corpus([0, 2])
    assert smaller.doc_ids == ["d1", "d3"]
    assert smaller.qrels == {"q1": {"d1": 1}, "q2": {"d3": 1}}
    assert smaller.corpus_fingerprint != data.corpus_fingerprint


SMART_DOCS = """.I 1
.T
first title
.A
someone
.W
first title .
body text
.I 2
.T
second
.A
author
.W
second body
.A
stray marker line inside the abstract
"""
SMART_QUERIES = """.I 001
.W
what is first
.I 004
.W
what is second
"""


def test_smart_reader_numbers_queries_by_position(tmp_path):
    (tmp_path / "docs").write_text(SMART_DOCS)
    (tmp_path / "queries").write_text(SMART_QUERIES)
    (tmp_path / "qrels").write_text("1 1 1\n2 2 3\n2 1 -1\n")
    data = read_smart(
        tmp_path / "docs", tmp_path / "queries", tmp_path / "qrels", name="toy", grade_map=cranfield_grade
    )
    assert data.query_ids == ["1", "2"]
    assert data.queries == ["what is first", "what is second"]
    assert data.qrels == {"1": {"1": 4}, "2": {"2": 2}}
    assert data.dropped == {"qrels_unmapped_grade": 1}
    assert data.texts[1] == "second body stray marker line inside the abstract"


def test_smart_parser_rejects_text_before_the_first_record():
    with pytest.raises(ValueError, match="line 1: text before the first"):
        parse_smart("stray\n.I 1\n.W\nx\n")


def test_cranfield_grades_run_the_other_way():
    assert [cranfield_grade(g) for g in (1, 2, 3, 4)] == [4, 3, 2, 1]
    assert cranfield_grade(-1) is None
    with pytest.raises(ValueError, match="invalid Cranfield grade 7"):
        cranfield_grade(7)


def test_retrieval_sets_are_registered():
    assert {"scifact", "cranfield", "beir"} <= set(list_datasets("retrieval"))
    assert get_dataset_info("scifact").test_split == "test"


def test_beir_needs_folder_or_corpus():
    with pytest.raises(ValueError, match="needs --data-dir"):
        load_dataset("beir", split="test")


@requires_data("cranfield/cran.all.1400", "cranfield/cran.qry", "cranfield/cranqrel")
def test_real_cranfield_collection():
    data = load_dataset("cranfield", split="test")
    assert data.num_docs == 1400
    assert len(data) == 225
    assert data.doc_ids[0] == "1"
    assert data.doc_ids[-1] == "1400"
    assert sum(len(grades) for grades in data.qrels.values()) == 1612
    assert data.dropped == {"qrels_unmapped_grade": 225}
    assert data.qrels["1"]["184"] == 3  # graded 2 in cranqrel
    assert data.qrels["1"]["13"] == 1  # graded 4
    assert data.queries[0].startswith("what similarity laws must be obeyed")
    assert data.titles[0] == "experimental investigation of the aerodynamics of a wing in a slipstream ."
    assert "destalling" in data.texts[0]


@requires_data("beir/scifact/corpus.jsonl", "beir/scifact/qrels/test.tsv")
def test_real_scifact_collection():
    test = load_dataset("scifact", split="test")
    train = load_dataset("scifact", split="train")
    assert (test.num_docs, len(test), len(train)) == (5183, 300, 809)
    assert sum(len(g) for g in test.qrels.values()) == 339
    assert test.corpus_fingerprint == train.corpus_fingerprint
    assert test.fingerprint != train.fingerprint


def test_beir_hub_download_lays_out_the_folder(tmp_path, monkeypatch):
    import gzip

    import huggingface_hub

    calls = []

    def fake_snapshot_download(repo_id, repo_type, allow_patterns, local_dir):
        calls.append(repo_id)
        target = Path(local_dir)
        target.mkdir(parents=True, exist_ok=True)
        if repo_id.endswith("-qrels"):
            (target / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
            return str(target)
        for name, records in (("corpus.jsonl.gz", CORPUS), ("queries.jsonl.gz", QUERIES)):
            with gzip.open(target / name, "wt") as handle:
                handle.write("".join(json.dumps(r) + "\n" for r in records))
        return str(target)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("PAPERZOO_OFFLINE", raising=False)
    monkeypatch.setenv("PAPERZOO_DATA", str(tmp_path / "empty"))
    data = load_dataset("beir", split="test", corpus="toyset")
    assert calls == ["BeIR/toyset", "BeIR/toyset-qrels"]
    assert data.name == "beir-toyset"
    assert data.qrels == {"q1": {"d1": 1}}
