"""SMART-format retrieval collections, such as Cranfield, read into a :class:`RetrievalDataset`."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from pathlib import Path

from paperzoo.core.data.resolve import resolve_data_dir
from paperzoo.core.data.retrieval import (
    RetrievalDataset,
    _add_unique,
    _checked_qrels,
    _drop_empty_queries,
    _drop_unjudged,
    _warn_duplicates,
)
from paperzoo.core.data.text import decode_text
from paperzoo.core.files import fingerprint_files, fingerprint_value

log = logging.getLogger(__name__)

_SMART_MARKER = re.compile(r"^\.([A-Z])(?:\s+(\S+))?\s*$")


def parse_smart(text: str, source: str = "SMART file") -> list[tuple[str, dict[str, str]]]:
    """Split a SMART-format file into ``(id, {field letter: text})`` records.

    Each record opens with ``.I <id>``. A line that is only ``.X`` (one
    capital letter) opens field X, and the lines up to the next marker are
    its text, joined with single spaces.

    A marker that repeats a field the record already has is treated as text
    of the field being read, because in the published Cranfield file such
    stray ``.A``/``.B``/``.W`` lines (documents 240, 576, 578) sit inside
    abstracts. These are counted and logged at debug level.
    """
    records: list[tuple[str, dict[str, list[str]]]] = []
    current: dict[str, list[str]] | None = None
    active: str | None = None
    stray = 0
    for number, line in enumerate(text.splitlines(), start=1):
        match = _SMART_MARKER.match(line)
        if match and match.group(1) == "I":
            if not match.group(2):
                raise ValueError(f"{source}, line {number}: '.I' without a record id")
            current = {}
            records.append((match.group(2), current))
            active = None
            continue
        if current is None:
            if line.strip():
                raise ValueError(f"{source}, line {number}: text before the first '.I' record marker")
            continue
        if match and match.group(2) is None:
            letter = match.group(1)
            if letter in current and active is not None:
                stray += 1
                continue
            current[letter] = []
            active = letter
            continue
        if active is None:
            if line.strip():
                raise ValueError(f"{source}, line {number}: text outside a field; expected a marker such as '.W'")
            continue
        current[active].append(line.strip())
    if stray:
        log.debug("%s: read %d repeated field marker(s) as text", source, stray)
    return [(record_id, {k: " ".join(w for w in v if w) for k, v in fields.items()}) for record_id, fields in records]


def read_smart(
    documents: str | os.PathLike,
    queries: str | os.PathLike,
    qrels: str | os.PathLike,
    *,
    name: str,
    split: str = "test",
    grade_map: Callable[[int], int | None] | None = None,
    qrels_query_numbering: str = "ordinal",
) -> RetrievalDataset:
    """Read a SMART-format collection (documents, queries, qrels) into a :class:`RetrievalDataset`.

    Args:
        documents: the documents file (``.I``, ``.T``, ``.A``, ``.B``, ``.W``).
        queries: the queries file (``.I``, ``.W``).
        qrels: lines ``query document grade`` (extra columns ignored).
        name: the registry name of the result.
        split: the split name of the result.
        grade_map: turns a file grade into a BEIR grade (higher is more
            relevant), or ``None`` to drop the line; identity when omitted.
        qrels_query_numbering: ``"ordinal"`` when the qrels number queries
            1, 2, 3... by their position in the queries file (as Cranfield
            does; its ``.I`` numbers have gaps), ``"id"`` when they use the
            ``.I`` numbers. The query ids of the result are the qrels'
            numbers either way, so runs and qrels match.
    """
    if qrels_query_numbering not in ("ordinal", "id"):
        raise ValueError(f"invalid qrels_query_numbering {qrels_query_numbering!r}; choose 'ordinal' or 'id'")
    paths = [Path(documents), Path(queries), Path(qrels)]
    counts: dict[str, int] = {}

    doc_ids, titles, texts = [], [], []
    seen: dict[str, tuple[tuple, str]] = {}
    for record_id, fields in parse_smart(decode_text(paths[0].read_bytes()), str(paths[0])):
        doc_id = _strip_zeros(record_id)
        content = (fields.get("T", ""), fields.get("W", ""))
        if _add_unique("document", doc_id, content, f"{paths[0].name} record .I {record_id}", seen, counts):
            doc_ids.append(doc_id)
            titles.append(content[0])
            texts.append(content[1])

    query_ids, query_texts = [], []
    seen = {}
    for ordinal, (record_id, fields) in enumerate(parse_smart(decode_text(paths[1].read_bytes()), str(paths[1])), 1):
        query_id = str(ordinal) if qrels_query_numbering == "ordinal" else _strip_zeros(record_id)
        text = fields.get("W", "")
        if _add_unique("query", query_id, (text,), f"{paths[1].name} record .I {record_id}", seen, counts):
            query_ids.append(query_id)
            query_texts.append(text)
    _warn_duplicates(counts, paths[0].parent.name)
    all_query_ids = set(query_ids)
    query_ids, query_texts = _drop_empty_queries(query_ids, query_texts, f"{name}/{split}", counts)
    empty = all_query_ids - set(query_ids)

    raw = []
    for number, line in enumerate(decode_text(paths[2].read_bytes()).splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 3:
            raise ValueError(f"{paths[2]}, line {number}: expected 'query document grade', got {line!r}")
        try:
            grade = int(parts[2])
        except ValueError:
            raise ValueError(f"{paths[2]}, line {number}: the grade {parts[2]!r} is not an integer") from None
        mapped = grade if grade_map is None else grade_map(grade)
        if mapped is None:
            counts["qrels_unmapped_grade"] = counts.get("qrels_unmapped_grade", 0) + 1
            continue
        query_id = _strip_zeros(parts[0])
        if query_id not in empty:
            raw.append((query_id, _strip_zeros(parts[1]), mapped))
    checked = _checked_qrels(raw, set(query_ids), set(doc_ids), str(paths[2]), counts)
    _drop_unjudged(query_ids, query_texts, checked)

    fingerprint = fingerprint_value(
        {"dataset": name, "split": split, "numbering": qrels_query_numbering, "source": fingerprint_files(paths)}
    )
    return RetrievalDataset(
        name,
        split,
        doc_ids,
        titles,
        texts,
        query_ids,
        query_texts,
        checked,
        fingerprint,
        fingerprint_files(paths[:1]),
        counts,
    )


def _strip_zeros(number: str) -> str:
    """Write ``"001"`` as ``"1"`` so ids from files that pad numbers match those that do not."""
    return str(int(number)) if number.isdigit() else number


def cranfield_grade(grade: int) -> int | None:
    """Map a Cranfield grade to the BEIR convention, or ``None`` to drop the line.

    Cleverdon's scale runs the other way: 1 = a complete answer, 2 = high
    relevance, 3 = useful background, 4 = minimum interest (5 = no interest is
    never listed). They become 4, 3, 2 and 1, so higher is more relevant.
    Every query also has one line graded -1, which is no judgement and is
    dropped.
    """
    if grade == -1:
        return None
    if not 1 <= grade <= 5:
        raise ValueError(f"invalid Cranfield grade {grade}; the scale runs from 1 (best) to 5")
    return 5 - grade


def load_cranfield(split: str = "test", data_dir: str | os.PathLike | None = None) -> RetrievalDataset:
    """Cranfield: 1,400 aeronautics abstracts, 225 queries, graded judgements (see :func:`cranfield_grade`).

    The qrels number queries by their position in ``cran.qry`` (1 to 225), not
    by the ``.I`` numbers there (1 to 365 with gaps), so query ids are those
    positions. The collection has no training split.
    """
    folder = resolve_data_dir(
        "cranfield",
        "cranfield",
        ["cran.all.1400", "cran.qry", "cranqrel"],
        data_dir=data_dir,
        source="the Cranfield collection (Cleverdon, 1967), as distributed with the SMART system",
    )
    return read_smart(
        folder / "cran.all.1400",
        folder / "cran.qry",
        folder / "cranqrel",
        name="cranfield",
        split=split,
        grade_map=cranfield_grade,
        qrels_query_numbering="ordinal",
    )
