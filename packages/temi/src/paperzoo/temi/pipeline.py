"""The ``paperzoo temi fit`` and ``predict`` workflows on named data sets.

``fit``: load the data, embed it once with a frozen encoder (cached), find
k nearest neighbours, train TEMI heads for each seed beside a k-means
baseline on the same embeddings, evaluate both on the held-out split, and
write the run directory (config, metrics, results, models, plots).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from paperzoo.core.cache import cached_arrays
from paperzoo.core.config import config_to_dict
from paperzoo.core.data import get_dataset_info, load_dataset, train_val_split
from paperzoo.core.features import (
    check_finite,
    embed,
    embedding_cache_path,
    get_encoder,
    kmeans,
    knn,
    neighbour_label_agreement,
)
from paperzoo.core.files import (
    atomic_directory,
    atomic_write_json,
    fingerprint_array,
    fingerprint_files,
    fingerprint_value,
)
from paperzoo.core.hub import load_pretrained
from paperzoo.core.metrics import clustering_scores
from paperzoo.core.metrics.summary import summarize_runs
from paperzoo.core.plots import plot_clustering, plot_curves
from paperzoo.core.runs import default_run_dir, prepare_run_dir, provenance, write_results
from paperzoo.core.training import make_accelerator, read_metrics
from paperzoo.temi.config import RESUME_IGNORED, FitConfig
from paperzoo.temi.estimator import TEMI, predict_clusters
from paperzoo.temi.model import TEMIHeads

log = logging.getLogger(__name__)

SYSTEMS = ("temi", "kmeans")


@dataclass
class PreparedData:
    """Embeddings and labels of the rows a run fits on and evaluates on."""

    fit: np.ndarray
    fit_labels: np.ndarray | None
    eval: np.ndarray
    eval_labels: np.ndarray | None
    val: np.ndarray
    val_labels: np.ndarray | None
    classes: list[str]
    description: dict[str, Any]
    fingerprints: dict[str, str]
    neighbours: np.ndarray


def _dataset_options(config: FitConfig) -> dict[str, Any]:
    info = get_dataset_info(config.dataset)
    if config.side is not None and "side" not in info.options:
        raise ValueError(f"--side applies to multidomain_de_en only; dataset {config.dataset!r} has no sides")
    return {"side": config.side} if "side" in info.options else {}


@dataclass
class _Source:
    """Embeddings (and labels) of the fitted split and, when there is one, the held-out split."""

    name: str
    train_split: str
    train: np.ndarray
    train_labels: np.ndarray | None
    classes: list[str]
    cache_key: str
    fingerprints: dict[str, str]
    encoder: str | None
    encoder_precision: str | None
    eval_split: str | None = None
    eval: np.ndarray | None = None
    eval_labels: np.ndarray | None = None


def _embed_dataset(config: FitConfig, accelerator: Any) -> _Source:
    info = get_dataset_info(config.dataset)
    if info.modality not in ("image", "text"):
        raise ValueError(f"dataset {config.dataset!r} holds {info.modality} data; TEMI clusters images or texts")
    options = _dataset_options(config)
    train_split = config.train_split or info.default_split
    eval_split = config.eval_split or info.test_split
    train = load_dataset(config.dataset, split=train_split, data_dir=config.data_dir, **options)
    encoder = get_encoder(config.encoder, precision=config.encoder_precision, weights=config.encoder_weights)
    if encoder.modality != info.modality:
        raise ValueError(
            f"encoder {config.encoder!r} embeds {encoder.modality} but dataset {config.dataset!r} holds "
            f"{info.modality}; choose a matching --encoder (see 'paperzoo encoders')"
        )

    def vectors_of(dataset: Any) -> np.ndarray:
        return embed(
            dataset,
            encoder,
            batch_size=config.embed_batch_size,
            num_workers=config.num_workers,
            accelerator=accelerator,
        )

    source = _Source(
        name=config.dataset,
        train_split=train_split,
        train=vectors_of(train),
        train_labels=train.labels,
        classes=train.classes,
        cache_key=embedding_cache_path(train, encoder).name,
        fingerprints={f"{config.dataset}/{train_split}": train.fingerprint},
        encoder=config.encoder,
        encoder_precision=encoder.precision,
    )
    if eval_split is not None and eval_split != train_split:
        held_out = load_dataset(config.dataset, split=eval_split, data_dir=config.data_dir, **options)
        source.eval_split, source.eval, source.eval_labels = (
            eval_split,
            np.asarray(vectors_of(held_out)),
            held_out.labels,
        )
        source.fingerprints[f"{config.dataset}/{eval_split}"] = held_out.fingerprint
    return source


def _read_array(path: str, what: str, ndim: int) -> np.ndarray:
    file = Path(path).expanduser()
    if not file.is_file():
        raise FileNotFoundError(f"{what} file {file} not found")
    try:
        array = np.load(file, mmap_mode="r", allow_pickle=False)
    except ValueError as error:
        raise ValueError(f"{what} file {file} is not a .npy array ({error}); save it with numpy.save") from error
    if array.ndim != ndim:
        raise ValueError(f"{what} file {file} holds an array of shape {array.shape}; expected {ndim} dimensions")
    return array


def _integer_labels(labels: np.ndarray, option: str) -> np.ndarray:
    """Return class labels as int64; floats are accepted only when they are whole numbers."""
    if labels.dtype.kind in "iu":
        return labels.astype(np.int64)
    if labels.dtype.kind == "f" and np.isfinite(labels).all() and (labels == np.round(labels)).all():
        return labels.astype(np.int64)
    examples = ", ".join(map(str, labels[:3].tolist()))
    raise ValueError(f"{option} must hold integer class ids, got {labels.dtype} values such as {examples}")


def _load_feature_files(config: FitConfig) -> _Source:
    """Read precomputed embeddings (``--features``) instead of embedding a data set."""
    train = _read_array(config.features, "features", 2)
    labels = None if config.labels is None else _integer_labels(_read_array(config.labels, "labels", 1), "--labels")
    if labels is not None and len(labels) != len(train):
        raise ValueError(f"--labels has {len(labels)} rows but --features has {len(train)}")
    paths = [p for p in (config.features, config.labels) if p is not None]
    source = _Source(
        name=Path(config.features).stem,
        train_split="features",
        train=train,
        train_labels=labels,
        classes=[str(c) for c in np.unique(labels)] if labels is not None else [],
        cache_key=fingerprint_files(paths),
        fingerprints={"features": fingerprint_files(paths)},
        encoder=None,
        encoder_precision=None,
    )
    if config.eval_features is not None:
        held_out = _read_array(config.eval_features, "eval features", 2)
        if held_out.shape[1] != train.shape[1]:
            raise ValueError(f"--eval-features has {held_out.shape[1]} columns but --features has {train.shape[1]}")
        eval_labels = None if config.eval_labels is None else _read_array(config.eval_labels, "eval labels", 1)
        if eval_labels is not None and len(eval_labels) != len(held_out):
            raise ValueError(f"--eval-labels has {len(eval_labels)} rows but --eval-features has {len(held_out)}")
        source.eval_split, source.eval = "eval_features", np.asarray(held_out, dtype=np.float32)
        source.eval_labels = None if eval_labels is None else _integer_labels(eval_labels, "--eval-labels")
        eval_paths = [p for p in (config.eval_features, config.eval_labels) if p is not None]
        source.fingerprints["eval_features"] = fingerprint_files(eval_paths)
    return source


def prepare_data(config: FitConfig, accelerator: Any, run_dir: Path) -> PreparedData:
    """Load and embed the data (or read feature files), carve the validation rows, find neighbours."""
    source = _load_feature_files(config) if config.features else _embed_dataset(config, accelerator)
    check_finite(source.train, f"the embeddings of {source.name}/{source.train_split}")
    if source.eval is not None:
        check_finite(source.eval, f"the embeddings of {source.name}/{source.eval_split}")
    labels = source.train_labels
    split_seed = 0  # the validation split is fixed across seeds, so every seed is tuned on the same rows
    if source.eval is not None:
        fit_rows, val_rows = train_val_split(len(source.train), config.val_fraction, seed=split_seed, labels=labels)
        eval_split = source.eval_split
        eval_note = f"{source.name}/{eval_split} ({len(source.eval):,} rows, never used for fitting or choices)"
        val_note = "held out from fitting"
    else:
        # Without a held-out split, clustering is evaluated on the rows it was fitted on (the usual protocol).
        fit_rows = np.arange(len(source.train))
        _, val_rows = train_val_split(len(source.train), config.val_fraction, seed=split_seed, labels=labels)
        eval_split = source.train_split
        eval_note = f"{source.name}/{eval_split}, the fitted rows (no held-out split)"
        # The labelled subset used for tuning is then part of the fitted rows, like every evaluated row.
        val_note = "a stratified subset of the fitted rows (no held-out split)"

    fit_vectors = np.ascontiguousarray(source.train[fit_rows], dtype=np.float32)
    eval_vectors = fit_vectors if source.eval is None else source.eval
    eval_labels = labels if source.eval is None else source.eval_labels
    val_vectors = np.ascontiguousarray(source.train[val_rows], dtype=np.float32)
    if accelerator.is_main_process:
        _save_splits(run_dir / "splits.json", fit_rows, val_rows, source.train_split, eval_split)

    key = {"embeddings": source.cache_key, "rows": fingerprint_array(fit_rows), "k": config.knn_k, "metric": "cosine"}
    neighbours = cached_arrays(
        key, lambda: {"neighbours": knn(fit_vectors, config.knn_k, metric="cosine", show_progress=True)[1]}
    )["neighbours"]

    description = {
        "dataset": source.name,
        "encoder": source.encoder,
        "encoder_precision": source.encoder_precision,
        "train_split": source.train_split,
        "eval_split": eval_split,
        "fit_rows": len(fit_rows),
        "val_rows": len(val_rows),
        "eval_rows": len(eval_vectors),
        "evaluated_on": eval_note,
        "validation_rows": val_note,
        "embedding_dim": int(fit_vectors.shape[1]),
    }
    if labels is not None:
        description["neighbour_label_agreement"] = neighbour_label_agreement(neighbours, labels[fit_rows])
    return PreparedData(
        fit=fit_vectors,
        fit_labels=None if labels is None else labels[fit_rows],
        eval=eval_vectors,
        eval_labels=eval_labels,
        val=val_vectors,
        val_labels=None if labels is None else labels[val_rows],
        classes=source.classes,
        description=description,
        fingerprints=source.fingerprints,
        neighbours=neighbours,
    )


def _save_splits(path: Path, fit_rows: np.ndarray, val_rows: np.ndarray, train_split: str, eval_split: str) -> None:
    payload = {
        "train_split": train_split,
        "eval_split": eval_split,
        "fit_rows": fit_rows.tolist(),
        "val_rows": val_rows.tolist(),
    }
    if path.exists():
        saved = json.loads(path.read_text())
        if saved != payload:
            raise RuntimeError(
                f"{path} records other rows than this run would use; the data changed since the run started"
            )
        return
    atomic_write_json(path, payload)


def _scores(labels: np.ndarray | None, predicted: np.ndarray) -> dict[str, float]:
    return {} if labels is None else clustering_scores(labels, predicted)


def fit_one_seed(
    config: FitConfig, data: PreparedData, seed: int, run_dir: Path, accelerator: Any, num_clusters: int
) -> dict[str, Any]:
    """Train TEMI and k-means for one seed; returns (and saves) the seed's result."""
    seed_dir = run_dir / "seeds" / f"seed-{seed}"
    result_path = seed_dir / "result.json"
    if result_path.exists():
        log.info("seed %d already finished; reading %s", seed, result_path)
        return json.loads(result_path.read_text())

    started = time.perf_counter()
    # A fresh accelerator per seed: one shared by several fits would keep every
    # earlier seed's prepared model and optimiser registered.
    seed_accelerator = make_accelerator(mixed_precision=config.mixed_precision)
    temi = TEMI(config.recipe()).fit(
        data.fit,
        data.neighbours,
        num_clusters=num_clusters,
        seed=seed,
        output_dir=seed_dir,
        accelerator=seed_accelerator,
        encoder=data.description["encoder"],
        encoder_precision=data.description["encoder_precision"],
        metrics_path=run_dir / "metrics.jsonl",
        metrics_tags={"seed": seed},
    )
    temi_seconds = time.perf_counter() - started

    started = time.perf_counter()
    baseline = kmeans(data.fit, num_clusters, restarts=config.kmeans_restarts, seed=seed)
    kmeans_seconds = time.perf_counter() - started

    predictions = {"temi": temi.predict(data.eval), "kmeans": baseline.predict(data.eval)}
    val_predictions = {"temi": temi.predict(data.val), "kmeans": baseline.predict(data.val)}
    result = {
        "seed": seed,
        "metrics": {system: _scores(data.eval_labels, predictions[system]) for system in SYSTEMS},
        "validation": {system: _scores(data.val_labels, val_predictions[system]) for system in SYSTEMS},
        "selected_head": temi.selected_head_,
        "head_losses": temi.head_losses_.tolist(),
        "selected_head_loss": float(temi.head_losses_[temi.selected_head_]),
        "steps": temi.train_state_.step,
        "seconds": {"temi_fit": temi_seconds, "kmeans_fit": kmeans_seconds},
        "cluster_sizes": np.bincount(predictions["temi"], minlength=num_clusters).tolist(),
    }
    if accelerator.is_main_process:
        with atomic_directory(seed_dir / "model") as folder:
            temi.model_.save_pretrained(folder)
        np.save(seed_dir / "eval_predictions.npy", predictions["temi"])
        atomic_write_json(result_path, result)
        shutil.rmtree(seed_dir / "checkpoints", ignore_errors=True)
    accelerator.wait_for_everyone()
    return result


def run_fit(config: FitConfig) -> dict[str, Any]:
    """Run the whole ``fit`` workflow; returns the content of ``results.json``."""
    accelerator = make_accelerator(mixed_precision=config.mixed_precision)
    run_dir = Path(config.output_dir) if config.output_dir else default_run_dir("temi", config.dataset)
    if accelerator.is_main_process:
        resuming = prepare_run_dir(run_dir, config_to_dict(config), ignore=RESUME_IGNORED)
        if not resuming:  # prepare_run_dir logs a resumed run itself
            log.info("new run directory %s", run_dir)
    accelerator.wait_for_everyone()

    data = prepare_data(config, accelerator, run_dir)
    num_clusters = config.num_clusters or len(data.classes)
    if num_clusters == 0:
        raise ValueError("the features come without labels, so --num-clusters must be given")
    if num_clusters > len(data.fit):
        raise ValueError(f"num_clusters={num_clusters} exceeds the {len(data.fit)} training rows")
    log.info(
        "fitting on %s/%s (%d rows); validation scores on %d rows, %s; evaluating on %s",
        data.description["dataset"], data.description["train_split"], len(data.fit), len(data.val),
        data.description["validation_rows"], data.description["evaluated_on"],
    )  # fmt: skip

    seeds = list(range(config.first_seed, config.first_seed + config.seeds))
    per_seed = [fit_one_seed(config, data, seed, run_dir, accelerator, num_clusters) for seed in seeds]

    # The model kept is the seed whose selected head has the lowest loss: an unsupervised choice.
    chosen = min(per_seed, key=lambda r: r["selected_head_loss"])
    results: dict[str, Any] = {
        "metrics": {},
        "validation": {},
        "chosen": {"seed": chosen["seed"], "head": chosen["selected_head"], "rule": "lowest mean head loss"},
        "data": data.description,
        "num_clusters": num_clusters,
        "per_seed": per_seed,
    }
    if data.eval_labels is not None:
        results["metrics"] = {s: summarize_runs([r["metrics"][s] for r in per_seed]) for s in SYSTEMS}
        results["validation"] = {s: summarize_runs([r["validation"][s] for r in per_seed]) for s in SYSTEMS}

    if accelerator.is_main_process:
        with atomic_directory(run_dir / "model") as folder:
            for item in (run_dir / "seeds" / f"seed-{chosen['seed']}" / "model").iterdir():
                shutil.copy2(item, folder / item.name)
        _plots(run_dir, data, chosen, config)
        write_results(
            run_dir,
            results.pop("metrics"),
            provenance_record=provenance(
                data=data.fingerprints,
                device=str(accelerator.device),
                precision=config.mixed_precision,
            ),
            **results,
        )
    accelerator.wait_for_everyone()
    return json.loads((run_dir / "results.json").read_text())


def _plots(run_dir: Path, data: PreparedData, chosen: dict[str, Any], config: FitConfig) -> None:
    predictions = np.load(run_dir / "seeds" / f"seed-{chosen['seed']}" / "eval_predictions.npy")
    if data.eval_labels is not None:
        scores = chosen["metrics"]["temi"]
        where = f"{data.description['dataset']}/{data.description['eval_split']}"
        title = (
            f"TEMI on {where}, seed {chosen['seed']}, head {chosen['selected_head']}: "
            f"ACC {scores['acc']:.3f}  NMI {scores['nmi']:.3f}  ARI {scores['ari']:.3f}"
        )
        plot_clustering(data.eval_labels, predictions, data.classes, run_dir / "clusters.png", title=title)
    records = read_metrics(run_dir / "metrics.jsonl") if (run_dir / "metrics.jsonl").exists() else []
    seed_records = [r for r in records if r.get("seed") == chosen["seed"]]
    if seed_records:
        plot_curves(
            seed_records, ["loss", "lr", "teacher_momentum"], run_dir / "training.png", title=f"seed {chosen['seed']}"
        )


def format_results(results: dict[str, Any]) -> str:
    """Return the results table printed at the end of ``fit``."""
    lines = [f"evaluated on {results['data']['evaluated_on']}"]
    metrics = results.get("metrics", {})
    if not metrics:
        return "\n".join([*lines, "(no labels: no scores)"])
    seeds = len(results["per_seed"])
    lines.append(f"{'system':8s} {'ACC':>16s} {'NMI':>16s} {'ARI':>16s}   (mean ± std over {seeds} seed(s))")
    for system in SYSTEMS:
        cells = [f"{metrics[system][m]['mean']:.4f} ± {metrics[system][m]['std']:.4f}" for m in ("acc", "nmi", "ari")]
        lines.append(f"{system:8s} " + " ".join(f"{c:>16s}" for c in cells))
    return "\n".join(lines)


def resolve_model_dir(path: str | Path) -> Path:
    """Accept a run directory (uses its ``model/``) or a model folder itself."""
    path = Path(path)
    if (path / "model" / "config.json").is_file():
        return path / "model"
    if (path / "config.json").is_file():
        return path
    raise FileNotFoundError(f"{path} holds no TEMI model (expected {path}/model/config.json or {path}/config.json)")


def run_predict(
    model_path: str | Path,
    dataset: str,
    split: str | None = None,
    data_dir: str | None = None,
    side: str | None = None,
    encoder_spec: str | None = None,
    encoder_weights: str | None = None,
    output: str | Path | None = None,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """Assign clusters to a data set with a saved model; returns the summary.

    The data set is embedded with the encoder recorded in the model (or
    ``encoder_spec``), at the same precision as in training.
    """
    folder = resolve_model_dir(model_path)
    model = load_pretrained(TEMIHeads, folder)  # stdout stays JSON only
    spec = encoder_spec or model.encoder
    if spec is None:
        raise ValueError(f"the model in {folder} records no encoder; pass --encoder")
    info = get_dataset_info(dataset)
    options = {"side": side} if "side" in info.options and side is not None else {}
    split = split or info.test_split or info.default_split
    data = load_dataset(dataset, split=split, data_dir=data_dir, **options)
    encoder = get_encoder(spec, precision=model.encoder_precision, weights=encoder_weights)
    if encoder.embed_dim != model.in_dim:
        raise ValueError(
            f"encoder {spec!r} gives {encoder.embed_dim}-d embeddings but the model expects {model.in_dim}-d"
        )
    vectors = np.asarray(embed(data, encoder, batch_size=batch_size))
    clusters = predict_clusters(model, vectors)
    summary: dict[str, Any] = {
        "dataset": dataset,
        "split": split,
        "rows": len(clusters),
        "cluster_sizes": np.bincount(clusters, minlength=model.num_clusters).tolist(),
        "data_fingerprint": fingerprint_value(data.fingerprint),
    }
    if data.labels is not None:
        summary["scores"] = clustering_scores(data.labels, clusters)
    if output is not None:
        _write_predictions(Path(output), clusters, data.labels)
        summary["output"] = str(output)
    return summary


def _write_predictions(path: Path, clusters: np.ndarray, labels: np.ndarray | None) -> None:
    from paperzoo.core.files import atomic_write_text

    header = "index,cluster" + (",label" if labels is not None else "")
    rows = [f"{i},{c}" + (f",{labels[i]}" if labels is not None else "") for i, c in enumerate(clusters.tolist())]
    atomic_write_text(path, "\n".join([header, *rows]) + "\n")
