"""Ad-hoc retrieval collections: a corpus, queries and graded relevance judgements (qrels).

Two on-disk formats are read into one in-memory form, :class:`RetrievalDataset`:

- BEIR directories: ``corpus.jsonl`` (``_id``, ``title``, ``text``),
  ``queries.jsonl`` (``_id``, ``text``) and ``qrels/<split>.tsv``
  (``query-id``, ``corpus-id``, ``score``, with a header line), each JSON
  lines file optionally gzip-compressed (as on the Hugging Face hub);
- SMART-style collections such as Cranfield: records opened by ``.I <id>``
  with fields ``.T`` (title), ``.A`` (authors), ``.B`` (bibliography) and
  ``.W`` (text), and whitespace-separated qrels lines (read by
  :mod:`paperzoo.core.data.smart`).

Relevance grades follow the BEIR convention everywhere: an integer, higher is
more relevant, and a grade of 0 or less means "judged not relevant".

Input problems are handled so that nothing usable is lost: qrels lines naming
unknown documents or queries, and queries with empty text, are dropped with one
warning that counts them (and the counts are kept in
:attr:`RetrievalDataset.dropped`); a document or query id that appears twice
with the same content is kept once with a warning, and twice with different
content is a :class:`ValueError`, because the judgements could then refer to
either.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from paperzoo.core.data.base import TextDataset
from paperzoo.core.data.resolve import resolve_data_dir
from paperzoo.core.data.text import decode_text
from paperzoo.core.files import fingerprint_files, fingerprint_value

log = logging.getLogger(__name__)

Qrels = dict[str, dict[str, int]]


@dataclass
class RetrievalDataset:
    """A corpus, the queries of one split and their relevance judgements.

    Attributes:
        name: the registry name, e.g. ``"scifact"``.
        split: the split of the queries and qrels, e.g. ``"test"``.
        doc_ids: one id per document, unique.
        titles: one title per document (may be empty).
        texts: one body text per document.
        query_ids: one id per query, unique, in file order.
        queries: one text per query.
        qrels: ``{query id: {document id: grade}}``; higher grades are more
            relevant, grades <= 0 are judged non-relevant. Only queries and
            documents present in the collection appear.
        fingerprint: a hash of the source files, the split and the options.
        corpus_fingerprint: a hash of the corpus alone, so the embeddings of
            the documents are shared between splits.
        dropped: counts of input lines left out, by reason.
    """

    name: str
    split: str
    doc_ids: list[str]
    titles: list[str]
    texts: list[str]
    query_ids: list[str]
    queries: list[str]
    qrels: Qrels
    fingerprint: str
    corpus_fingerprint: str
    dropped: dict[str, int] = field(default_factory=dict)

    modality = "retrieval"

    def __len__(self) -> int:
        return len(self.query_ids)

    @property
    def num_docs(self) -> int:
        return len(self.doc_ids)

    def document_texts(self) -> list[str]:
        """Return ``title + " " + text`` per document, as BEIR's models and BM25 baselines index it."""
        return [f"{title} {text}".strip() if title else text for title, text in zip(self.titles, self.texts)]

    def corpus_dataset(self) -> TextDataset:
        """Return the documents as a :class:`TextDataset` (for :func:`paperzoo.core.features.embed`)."""
        return TextDataset(
            f"{self.name}-corpus", "corpus", None, [], self.corpus_fingerprint, texts=self.document_texts()
        )

    def query_dataset(self) -> TextDataset:
        """Return the queries as a :class:`TextDataset`."""
        fingerprint = fingerprint_value({"queries": self.queries})
        return TextDataset(f"{self.name}-queries", self.split, None, [], fingerprint, texts=list(self.queries))

    def doc_index(self) -> dict[str, int]:
        """Return ``{document id: row}``."""
        return {doc_id: row for row, doc_id in enumerate(self.doc_ids)}

    def subset_queries(self, query_ids: Sequence[str]) -> RetrievalDataset:
        """Return the same corpus with only ``query_ids`` (in that order) and their qrels."""
        position = {query_id: row for row, query_id in enumerate(self.query_ids)}
        missing = [query_id for query_id in query_ids if query_id not in position]
        if missing:
            raise KeyError(f"unknown query ids {missing[:5]} in {self.name}/{self.split}")
        rows = [position[query_id] for query_id in query_ids]
        fingerprint = fingerprint_value({"parent": self.fingerprint, "queries": list(query_ids)})
        return RetrievalDataset(
            self.name,
            self.split,
            self.doc_ids,
            self.titles,
            self.texts,
            [self.query_ids[row] for row in rows],
            [self.queries[row] for row in rows],
            {query_id: dict(self.qrels[query_id]) for query_id in query_ids if query_id in self.qrels},
            fingerprint,
            self.corpus_fingerprint,
            dict(self.dropped),
        )

    def subset_corpus(self, rows: Sequence[int] | np.ndarray) -> RetrievalDataset:
        """Return the documents ``rows`` only; judgements of other documents are dropped.

        Metrics on a reduced corpus are higher than on the full one (fewer
        distractors), so use this for smoke tests and quick checks only.
        """
        rows = np.asarray(rows, dtype=np.int64)
        kept = {self.doc_ids[row] for row in rows.tolist()}
        qrels = {q: {d: g for d, g in judged.items() if d in kept} for q, judged in self.qrels.items()}
        qrels = {q: judged for q, judged in qrels.items() if judged}
        corpus_fingerprint = fingerprint_value({"parent": self.corpus_fingerprint, "rows": rows.tolist()})
        return RetrievalDataset(
            self.name,
            self.split,
            [self.doc_ids[row] for row in rows],
            [self.titles[row] for row in rows],
            [self.texts[row] for row in rows],
            list(self.query_ids),
            list(self.queries),
            qrels,
            fingerprint_value({"parent": self.fingerprint, "rows": rows.tolist()}),
            corpus_fingerprint,
            dict(self.dropped),
        )


# --- shared checks -------------------------------------------------------------------


def _add_unique(
    kind: str, record_id: str, content: tuple, where: str, seen: dict[str, tuple[tuple, str]], counts: dict[str, int]
) -> bool:
    """Record ``record_id``; returns False for an identical repeat, raises for a conflicting one."""
    if record_id not in seen:
        seen[record_id] = (content, where)
        return True
    first_content, first_where = seen[record_id]
    if first_content != content:
        raise ValueError(
            f"{kind} id {record_id!r} appears twice with different content ({first_where} and {where}); "
            f"give each {kind} a unique id"
        )
    counts[f"duplicate_{kind}s"] = counts.get(f"duplicate_{kind}s", 0) + 1
    return False


def _checked_qrels(
    raw: Sequence[tuple[str, str, int]],
    query_ids: set[str],
    doc_ids: set[str],
    source: str,
    counts: dict[str, int],
) -> Qrels:
    """Keep the judgements whose query and document exist; count and report the rest."""
    qrels: Qrels = {}
    unknown_docs: set[str] = set()
    unknown_queries: set[str] = set()
    repeated = 0
    for query_id, doc_id, grade in raw:
        if query_id not in query_ids:
            unknown_queries.add(query_id)
            counts["qrels_unknown_query"] = counts.get("qrels_unknown_query", 0) + 1
            continue
        if doc_id not in doc_ids:
            unknown_docs.add(doc_id)
            counts["qrels_unknown_document"] = counts.get("qrels_unknown_document", 0) + 1
            continue
        judged = qrels.setdefault(query_id, {})
        if doc_id in judged:
            repeated += 1
            grade = max(grade, judged[doc_id])
        judged[doc_id] = grade
    if unknown_queries or unknown_docs:
        log.warning(
            "%s: dropped %d judgement(s) naming %d unknown query id(s) (e.g. %s) and %d judgement(s) naming "
            "%d unknown document id(s) (e.g. %s); evaluating the rest",
            source,
            counts.get("qrels_unknown_query", 0),
            len(unknown_queries),
            sorted(unknown_queries)[:3],
            counts.get("qrels_unknown_document", 0),
            len(unknown_docs),
            sorted(unknown_docs)[:3],
        )
    if repeated:
        counts["qrels_repeated_pair"] = repeated
        log.warning("%s: %d (query, document) pair(s) judged twice; kept the higher grade", source, repeated)
    return qrels


def _drop_empty_queries(
    query_ids: list[str], queries: list[str], source: str, counts: dict[str, int]
) -> tuple[list[str], list[str]]:
    empty = [query_id for query_id, text in zip(query_ids, queries) if not text.strip()]
    if not empty:
        return query_ids, queries
    counts["empty_queries"] = len(empty)
    log.warning(
        "%s: dropped %d quer(ies) with empty text (ids %s); they are not evaluated", source, len(empty), empty[:5]
    )
    kept = [(q, t) for q, t in zip(query_ids, queries) if t.strip()]
    return [q for q, _ in kept], [t for _, t in kept]


# --- BEIR ----------------------------------------------------------------------------


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


def _find(folder: Path, stem: str) -> Path:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"{folder} has neither {stem} nor {stem}.gz; a BEIR directory needs both corpus and queries"
    )


def _iter_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}, line {number}: invalid JSON ({error.msg})") from error
            if "_id" not in record:
                raise ValueError(f"{path}, line {number}: the record has no '_id' field")
            yield number, record


def read_beir_qrels(path: str | os.PathLike) -> list[tuple[str, str, int]]:
    """Read a BEIR qrels TSV (a ``query-id corpus-id score`` header, then one judgement a line).

    Four-column TREC qrels lines (``query-id iteration corpus-id score``) are
    accepted too.

    Raises:
        ValueError: naming the line that is neither form.
    """
    path = Path(path)
    judgements = []
    for number, line in enumerate(decode_text(path.read_bytes()).splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) == 4:
            parts = [parts[0], parts[2], parts[3]]
        if len(parts) != 3:
            raise ValueError(f"{path}, line {number}: expected 'query-id corpus-id score', got {line!r}")
        try:
            grade = int(float(parts[2]))
        except ValueError:
            if number == 1:  # the header line
                continue
            raise ValueError(f"{path}, line {number}: the score {parts[2]!r} is not a number") from None
        judgements.append((parts[0], parts[1], grade))
    return judgements


def read_beir(folder: str | os.PathLike, split: str, name: str = "beir") -> RetrievalDataset:
    """Read a BEIR directory: the whole corpus, and the queries judged in ``qrels/<split>.tsv``.

    ``queries.jsonl`` usually holds the queries of every split; only those
    with at least one judgement in the split are kept, in file order.

    Raises:
        FileNotFoundError: a required file is missing.
        ValueError: malformed lines, or an id repeated with different content.
    """
    folder = Path(folder)
    corpus_path, queries_path = _find(folder, "corpus.jsonl"), _find(folder, "queries.jsonl")
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        available = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        raise FileNotFoundError(f"{qrels_path} not found; qrels splits present: {', '.join(available) or 'none'}")
    counts: dict[str, int] = {}

    doc_ids, titles, texts = [], [], []
    seen: dict[str, tuple[tuple, str]] = {}
    for number, record in _iter_jsonl(corpus_path):
        doc_id = str(record["_id"])
        content = (str(record.get("title") or ""), str(record.get("text") or ""))
        if _add_unique("document", doc_id, content, f"{corpus_path.name} line {number}", seen, counts):
            doc_ids.append(doc_id)
            titles.append(content[0])
            texts.append(content[1])

    all_query_ids, all_queries = [], []
    seen = {}
    for number, record in _iter_jsonl(queries_path):
        query_id = str(record["_id"])
        text = str(record.get("text") or "")
        if _add_unique("query", query_id, (text,), f"{queries_path.name} line {number}", seen, counts):
            all_query_ids.append(query_id)
            all_queries.append(text)
    _warn_duplicates(counts, str(folder))

    raw = read_beir_qrels(qrels_path)
    judged = {query_id for query_id, _, _ in raw}
    query_ids = [q for q in all_query_ids if q in judged]
    queries = [t for q, t in zip(all_query_ids, all_queries) if q in judged]
    query_ids, queries = _drop_empty_queries(query_ids, queries, f"{folder.name}/{split}", counts)
    empty = set(all_query_ids) - set(query_ids)
    raw = [line for line in raw if line[0] not in empty]
    qrels = _checked_qrels(raw, set(query_ids), set(doc_ids), f"{qrels_path}", counts)
    _drop_unjudged(query_ids, queries, qrels)

    corpus_fingerprint = fingerprint_files([corpus_path])
    fingerprint = fingerprint_value(
        {"dataset": name, "split": split, "source": fingerprint_files([corpus_path, queries_path, qrels_path])}
    )
    return RetrievalDataset(
        name, split, doc_ids, titles, texts, query_ids, queries, qrels, fingerprint, corpus_fingerprint, counts
    )


def _drop_unjudged(query_ids: list[str], queries: list[str], qrels: Qrels) -> None:
    """Remove, in place, queries whose judgements were all dropped."""
    keep = [i for i, query_id in enumerate(query_ids) if query_id in qrels]
    query_ids[:] = [query_ids[i] for i in keep]
    queries[:] = [queries[i] for i in keep]


def _warn_duplicates(counts: Mapping[str, int], source: str) -> None:
    for kind in ("document", "query"):
        repeats = counts.get(f"duplicate_{kind}s", 0)
        if repeats:
            log.warning(
                "%s: %d %s record(s) repeat an earlier id with the same content; kept one", source, repeats, kind
            )


# --- registered data sets -------------------------------------------------------


def download_beir_hub(name: str) -> Callable[[Path], None]:
    """Return a downloader for BEIR data set ``name`` from the Hugging Face hub.

    The hub keeps ``corpus.jsonl.gz`` and ``queries.jsonl.gz`` in ``BeIR/<name>``
    and the qrels TSV files in ``BeIR/<name>-qrels``.
    """

    def fetch(target: Path) -> None:
        from huggingface_hub import snapshot_download

        snapshot_download(
            repo_id=f"BeIR/{name}",
            repo_type="dataset",
            allow_patterns=["corpus.jsonl*", "queries.jsonl*"],
            local_dir=target,
        )
        snapshot_download(
            repo_id=f"BeIR/{name}-qrels", repo_type="dataset", allow_patterns=["*.tsv"], local_dir=target / "qrels"
        )

    return fetch


def load_beir_collection(
    name: str, split: str, data_dir: str | os.PathLike | None = None, registry_name: str | None = None
) -> RetrievalDataset:
    """Load BEIR data set ``name`` from ``data_dir``, ``$PAPERZOO_DATA/beir/<name>``, the cache or the hub."""
    folder = resolve_data_dir(
        registry_name or name,
        f"beir/{name}",
        ["corpus.jsonl*", "queries.jsonl*", f"qrels/{split}.tsv"],
        data_dir=data_dir,
        source=f"the BEIR benchmark (Thakur et al., NeurIPS 2021), hub data sets BeIR/{name} and BeIR/{name}-qrels",
        download=download_beir_hub(name),
    )
    return read_beir(folder, split, name=registry_name or name)


def load_scifact(split: str, data_dir: str | os.PathLike | None = None) -> RetrievalDataset:
    """SciFact in BEIR form: 5,183 abstracts; train 809 claims, test 300."""
    return load_beir_collection("scifact", split, data_dir)


def load_beir(split: str, data_dir: str | os.PathLike | None = None, corpus: str | None = None) -> RetrievalDataset:
    """Any BEIR directory: ``--data-dir`` pointing at it, or ``corpus=<name>`` for ``beir/<name>`` or the hub."""
    if corpus is None:
        if data_dir is None:
            raise ValueError(
                "dataset 'beir' needs --data-dir pointing at a BEIR directory, or the option corpus=<name> "
                "(e.g. nfcorpus) to read beir/<name> from PAPERZOO_DATA, the cache or the hub"
            )
        return read_beir(Path(data_dir).expanduser(), split, name="beir")
    return load_beir_collection(corpus, split, data_dir, registry_name=f"beir-{corpus}")
