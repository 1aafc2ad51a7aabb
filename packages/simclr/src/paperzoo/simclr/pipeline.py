"""The ``paperzoo simclr pretrain`` and ``evaluate`` workflows on named data sets.

``pretrain`` loads the training split, carves a seeded validation split out
of it and pretrains one SimCLR model per seed on the remaining rows. Each
encoder is saved with the core's :func:`~paperzoo.core.features.save_encoder`,
so other packages load it with ``get_encoder(folder)``. Each is evaluated
with kNN and a linear probe beside two baselines: the same network randomly
initialised, and raw pixels. The probes train on the fit rows, choose their
settings on the validation rows, and score the test split once.
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
import torch

from paperzoo.core.config import config_to_dict
from paperzoo.core.data import ImageDataset, get_dataset_info, load_dataset, train_val_split
from paperzoo.core.features import ImageEncoder, embed, get_encoder, save_encoder
from paperzoo.core.features.encoders import ENCODER_CONFIG, build_backbone
from paperzoo.core.files import atomic_directory, atomic_write_json
from paperzoo.core.metrics.summary import summarize_runs
from paperzoo.core.plots import plot_curves
from paperzoo.core.runs import default_run_dir, prepare_run_dir, provenance, write_results
from paperzoo.core.training import make_accelerator, read_metrics
from paperzoo.simclr.config import RESUME_IGNORED, EvalConfig, EvaluateConfig, PretrainConfig
from paperzoo.simclr.evaluate import evaluate_features
from paperzoo.simclr.model import SimCLRModel
from paperzoo.simclr.pretrain import pretrain

log = logging.getLogger(__name__)

SYSTEMS = ("simclr", "random_init", "pixels")


@dataclass
class SplitData:
    """The rows a run trains on, tunes on and reports on."""

    fit: ImageDataset
    val: ImageDataset
    test: ImageDataset
    description: dict[str, Any]
    fingerprints: dict[str, str]
    fit_rows: np.ndarray
    val_rows: np.ndarray


def load_splits(
    dataset: str,
    *,
    data_dir: str | None = None,
    train_split: str | None = None,
    eval_split: str | None = None,
    val_fraction: float = 0.1,
    max_train_rows: int | None = None,
) -> SplitData:
    """Load a labelled image data set and cut it into fit, validation and test rows.

    The validation rows are a stratified, seeded (seed 0) share of the
    training split, the same for every seed and every command, so the
    pretraining, the probes and ``evaluate`` all see the same rows.

    Raises:
        ValueError: a data set that is not images, has no labels, or has no
            held-out split to report on.
    """
    info = get_dataset_info(dataset)
    if info.modality != "image":
        raise ValueError(f"dataset {dataset!r} contains {info.modality} data; SimCLR needs an image data set")
    train_split = train_split or info.default_split
    eval_split = eval_split or info.test_split
    if eval_split is None or eval_split == train_split:
        raise ValueError(
            f"dataset {dataset!r} has no test split apart from {train_split!r}; pass --eval-split with a held-out split"
        )
    train = load_dataset(dataset, split=train_split, data_dir=data_dir)
    test = load_dataset(dataset, split=eval_split, data_dir=data_dir)
    if train.labels is None or test.labels is None:
        raise ValueError(f"dataset {dataset!r} has no labels; kNN and linear evaluation need them")
    if max_train_rows is not None and max_train_rows < len(train):
        keep, _ = train_val_split(len(train), 1.0 - max_train_rows / len(train), seed=0, labels=train.labels)
        train = train.subset(keep)
    fit_rows, val_rows = train_val_split(len(train), val_fraction, seed=0, labels=train.labels)
    fit, val = train.subset(fit_rows), train.subset(val_rows)
    description = {
        "dataset": dataset,
        "train_split": train_split,
        "eval_split": eval_split,
        "fit_rows": len(fit),
        "val_rows": len(val),
        "test_rows": len(test),
        "image_shape": list(np.asarray(fit.images[0]).shape),
        "evaluated_on": f"{dataset}/{eval_split} ({len(test):,} rows, never used for training or choices)",
    }
    fingerprints = {f"{dataset}/{train_split}": train.fingerprint, f"{dataset}/{eval_split}": test.fingerprint}
    return SplitData(fit, val, test, description, fingerprints, fit_rows, val_rows)


def _embed_splits(encoder: ImageEncoder, data: SplitData, eval_config: EvalConfig) -> list[np.ndarray]:
    return [
        np.asarray(embed(part, encoder, batch_size=eval_config.eval_batch_size, show_progress=True))
        for part in (data.fit, data.val, data.test)
    ]


def _score(features: list[np.ndarray], data: SplitData, eval_config: EvalConfig, seed: int) -> dict[str, Any]:
    return evaluate_features(
        features[0], data.fit.labels, features[1], data.val.labels, features[2], data.test.labels,
        protocols=eval_config.protocol, knn_k=eval_config.knn_k, knn_temperature=eval_config.knn_temperature,
        weight_decays=eval_config.linear_weight_decays, max_iter=eval_config.linear_max_iter, seed=seed,
    )  # fmt: skip


def evaluate_encoder(encoder: ImageEncoder, data: SplitData, eval_config: EvalConfig, seed: int = 0) -> dict[str, Any]:
    """Score a frozen encoder's features with the protocols of ``eval_config``.

    The encoder's module is in eval mode and runs under inference mode, so its
    weights and batch-norm statistics stay exactly as they were.
    """
    return _score(_embed_splits(encoder, data, eval_config), data, eval_config, seed)


def random_init_encoder(folder: str | Path, seed: int, precision: str = "fp32") -> ImageEncoder:
    """Return the architecture saved in ``folder`` with random weights (seeded), as a baseline encoder."""
    config = json.loads((Path(folder) / ENCODER_CONFIG).read_text())
    torch.manual_seed(seed)
    module = build_backbone(config["architecture"])
    return ImageEncoder(
        f"random_init:{config['architecture']['model_name']}",
        module,
        embed_dim=int(config["embed_dim"]),
        input_size=int(config["input_size"]),
        mean=config["mean"],
        std=config["std"],
        identity_extra={"architecture": config["architecture"], "seed": seed, "torch": torch.__version__},
        precision=precision,
    )


def pixel_features(dataset: ImageDataset) -> np.ndarray:
    """Return raw pixels in [0, 1] as ``(N, H * W * C)`` float32 rows.

    Raises:
        ValueError: for image files (folders), whose pixels would not fit in memory as rows.
    """
    if not isinstance(dataset.images, np.ndarray):
        raise ValueError(
            f"the raw-pixel baseline needs images held in memory, but {dataset.name!r} is read from image files; "
            "leave it out with --baselines random_init"
        )
    images = dataset.images
    return images.reshape(len(images), -1).astype(np.float32) / 255.0


def evaluate_pixels(data: SplitData, eval_config: EvalConfig, seed: int = 0) -> dict[str, Any]:
    """Score raw pixels with the same protocols (the no-learning baseline)."""
    features = [pixel_features(part) for part in (data.fit, data.val, data.test)]
    return _score(features, data, eval_config, seed)


def save_trained_encoder(folder: Path, model: SimCLRModel, extra: dict[str, Any]) -> Path:
    """Save ``model``'s encoder for :func:`paperzoo.core.features.get_encoder` (preprocessing recorded)."""
    encoder = model.encoder.to(memory_format=torch.contiguous_format)
    return save_encoder(
        folder,
        encoder,
        architecture=model.architecture,
        embed_dim=model.feature_dim,
        input_size=model.input_size,
        mean=model.mean,
        std=model.std,
        extra=extra,
    )


def pretrain_one_seed(config: PretrainConfig, data: SplitData, seed: int, run_dir: Path, accelerator: Any) -> dict:
    """Pretrain and evaluate one seed; returns (and saves) the seed's result."""
    seed_dir = run_dir / "seeds" / f"seed-{seed}"
    result_path = seed_dir / "result.json"
    if result_path.exists():
        log.info("seed %d already finished; reading %s", seed, result_path)
        return json.loads(result_path.read_text())

    started = time.perf_counter()
    model, state = pretrain(
        data.fit.images,
        config.recipe(),
        seed=seed,
        output_dir=seed_dir,
        accelerator=accelerator,
        metrics_path=run_dir / "metrics.jsonl",
        metrics_tags={"seed": seed},
        num_workers=config.num_workers,
    )
    train_seconds = time.perf_counter() - started
    model = model.cpu()
    if accelerator.is_main_process:
        with atomic_directory(seed_dir / "model") as folder:
            model.save_pretrained(folder)
        save_trained_encoder(
            seed_dir / "encoder", model, {"trained_by": "paperzoo-simclr", "dataset": config.dataset, "seed": seed}
        )
    accelerator.wait_for_everyone()

    result: dict[str, Any] = {
        "seed": seed,
        "steps": state.step,
        "epochs": round(state.step * config.batch_size * accelerator.num_processes / len(data.fit), 3),
        "seconds": {"pretrain": train_seconds},
    }
    if config.evaluate and accelerator.is_main_process:
        eval_config = config.evaluation()
        started = time.perf_counter()
        encoder = get_encoder(str(seed_dir / "encoder"), precision=eval_config.eval_precision)
        scores = {"simclr": evaluate_encoder(encoder, data, eval_config, seed)}
        if "random_init" in eval_config.baselines:
            baseline = random_init_encoder(seed_dir / "encoder", seed, eval_config.eval_precision)
            scores["random_init"] = evaluate_encoder(baseline, data, eval_config, seed)
        result["seconds"]["evaluate"] = time.perf_counter() - started
        result["metrics"] = {system: s["test"] for system, s in scores.items()}
        result["validation"] = {system: s["validation"] for system, s in scores.items()}
        result["linear_weight_decay"] = {s: v.get("linear_weight_decay") for s, v in scores.items()}
    if accelerator.is_main_process:
        atomic_write_json(result_path, result)
        shutil.rmtree(seed_dir / "checkpoints", ignore_errors=True)
    accelerator.wait_for_everyone()
    return result


def run_pretrain(config: PretrainConfig) -> dict[str, Any]:
    """Run the whole ``pretrain`` workflow; returns the content of ``results.json``."""
    accelerator = make_accelerator(mixed_precision=config.mixed_precision)
    run_dir = Path(config.output_dir) if config.output_dir else default_run_dir("simclr", config.dataset)
    if accelerator.is_main_process:
        resuming = prepare_run_dir(run_dir, config_to_dict(config), ignore=RESUME_IGNORED)
        log.info("%s run directory %s", "resuming the" if resuming else "new", run_dir)
    accelerator.wait_for_everyone()

    data = load_splits(
        config.dataset, data_dir=config.data_dir, train_split=config.train_split, eval_split=config.eval_split,
        val_fraction=config.val_fraction, max_train_rows=config.max_train_rows,
    )  # fmt: skip
    if accelerator.is_main_process:
        _save_splits(run_dir / "splits.json", data)
    seeds = list(range(config.first_seed, config.first_seed + config.seeds))
    per_seed = [pretrain_one_seed(config, data, seed, run_dir, accelerator) for seed in seeds]

    results: dict[str, Any] = {"data": data.description, "per_seed": per_seed, "encoder": str(run_dir / "encoder")}
    metrics: dict[str, Any] = {}
    if config.evaluate and accelerator.is_main_process:
        eval_config = config.evaluation()
        pixels = evaluate_pixels(data, eval_config) if "pixels" in eval_config.baselines else None
        systems = [s for s in SYSTEMS if s in per_seed[0]["metrics"]]
        metrics = {s: summarize_runs([r["metrics"][s] for r in per_seed]) for s in systems}
        results["validation"] = {s: summarize_runs([r["validation"][s] for r in per_seed]) for s in systems}
        if pixels is not None:
            metrics["pixels"] = summarize_runs([pixels["test"]])
            results["validation"]["pixels"] = summarize_runs([pixels["validation"]])
            results["pixels_linear_weight_decay"] = pixels.get("linear_weight_decay")

    if accelerator.is_main_process:
        first = run_dir / "seeds" / f"seed-{seeds[0]}"
        for name in ("encoder", "model"):
            with atomic_directory(run_dir / name) as folder:
                for item in (first / name).iterdir():
                    shutil.copy2(item, folder / item.name)
        _plot_training(run_dir, seeds[0])
        write_results(
            run_dir,
            metrics,
            provenance_record=provenance(
                data=data.fingerprints, device=str(accelerator.device), precision=config.mixed_precision
            ),
            **results,
        )
    accelerator.wait_for_everyone()
    return json.loads((run_dir / "results.json").read_text())


def _save_splits(path: Path, data: SplitData) -> None:
    payload = {"fit_rows": data.fit_rows.tolist(), "val_rows": data.val_rows.tolist()}
    if path.exists() and json.loads(path.read_text()) != payload:
        raise RuntimeError(f"{path} records other rows than this run would use; the data changed since the run began")
    atomic_write_json(path, payload)


def _plot_training(run_dir: Path, seed: int) -> None:
    path = run_dir / "metrics.jsonl"
    records = [r for r in read_metrics(path) if r.get("seed") == seed] if path.exists() else []
    if records:
        plot_curves(records, ["loss", "lr"], run_dir / "training.png", title=f"SimCLR pretraining, seed {seed}")


def resolve_encoder_dir(path: str | Path) -> Path:
    """Accept a pretraining run directory (uses its ``encoder/``) or an encoder folder itself."""
    path = Path(path)
    for candidate in (path / "encoder", path):
        if (candidate / ENCODER_CONFIG).is_file():
            return candidate
    raise FileNotFoundError(
        f"no saved encoder found in {path} (expected {path}/encoder/{ENCODER_CONFIG} or {path}/{ENCODER_CONFIG})"
    )


def run_evaluate(config: EvaluateConfig) -> dict[str, Any]:
    """Evaluate a saved encoder and the baselines; writes and returns ``results.json``."""
    folder = resolve_encoder_dir(config.model)
    run_dir = Path(config.output_dir) if config.output_dir else default_run_dir("simclr", f"eval-{config.dataset}")
    prepare_run_dir(run_dir, config_to_dict(config), ignore=("output_dir", "eval_batch_size"))
    data = load_splits(
        config.dataset, data_dir=config.data_dir, train_split=config.train_split, eval_split=config.eval_split,
        val_fraction=config.val_fraction, max_train_rows=config.max_train_rows,
    )  # fmt: skip
    encoder = get_encoder(str(folder), precision=config.eval_precision)
    scores = {"simclr": evaluate_encoder(encoder, data, config, config.seed)}
    if "random_init" in config.baselines:
        scores["random_init"] = evaluate_encoder(
            random_init_encoder(folder, config.seed, config.eval_precision), data, config, config.seed
        )
    if "pixels" in config.baselines:
        scores["pixels"] = evaluate_pixels(data, config, config.seed)
    metrics = {system: summarize_runs([s["test"]]) for system, s in scores.items()}
    extra = {
        "validation": {system: summarize_runs([s["validation"]]) for system, s in scores.items()},
        "linear_weight_decay": {system: s.get("linear_weight_decay") for system, s in scores.items()},
        "data": data.description,
        "encoder": str(folder),
    }
    write_results(
        run_dir, metrics, provenance_record=provenance(data=data.fingerprints, precision=config.eval_precision), **extra
    )
    return json.loads((run_dir / "results.json").read_text())


def format_results(results: dict[str, Any]) -> str:
    """Return the table printed at the end of ``pretrain`` and ``evaluate``."""
    metrics = results.get("metrics", {})
    lines = [f"evaluated on {results['data']['evaluated_on']}"]
    if not metrics:
        return "\n".join([*lines, "(evaluation skipped)"])
    names = sorted({name for system in metrics.values() for name in system})
    lines.append(f"{'system':12s} " + " ".join(f"{name:>18s}" for name in names) + "   (mean ± std over seeds)")
    for system, scores in metrics.items():
        cells = [f"{scores[name]['mean']:.4f} ± {scores[name]['std']:.4f}" if name in scores else "-" for name in names]
        lines.append(f"{system:12s} " + " ".join(f"{cell:>18s}" for cell in cells))
    return "\n".join(lines)
