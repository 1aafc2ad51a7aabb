"""Try SimCLR recipes on the validation rows carved from a training split.

Usage: python benchmarks/simclr_recipe_search.py DATASET OUTPUT_DIR KEY=VALUE ...

Each KEY=VALUE overrides a field of the cpu-small preset (for example
``max_steps=300 temperature=0.2``). The script pretrains on the training
rows minus the validation rows, then scores kNN and a linear probe on the
validation rows only: the test split is never read here. One JSON line with
the recipe, the scores and the wall time is appended to OUTPUT_DIR/search.jsonl.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import asdict, fields
from pathlib import Path

import torch
import yaml

from paperzoo.core.data import load_dataset, train_val_split
from paperzoo.core.training import make_accelerator
from paperzoo.simclr.config import PRESETS, SimCLRConfig
from paperzoo.simclr.evaluate import evaluate_features
from paperzoo.simclr.features import extract_features
from paperzoo.simclr.pretrain import pretrain


def parse_overrides(pairs: list[str]) -> dict:
    types = {f.name: f.type for f in fields(SimCLRConfig)}
    values = {}
    for pair in pairs:
        key, _, text = pair.partition("=")
        if key not in types:
            raise SystemExit(f"unknown field {key!r}")
        values[key] = yaml.safe_load(text)
    return values


def main() -> None:
    dataset, output = sys.argv[1], Path(sys.argv[2])
    overrides = parse_overrides(sys.argv[3:])
    preset = yaml.safe_load(PRESETS["cpu-small"].read_text())
    recipe = {key: value for key, value in preset.items() if key in SimCLRConfig.__dataclass_fields__}
    config = SimCLRConfig(**{**recipe, **overrides})
    train = load_dataset(dataset, split="train")
    fit_rows, val_rows = train_val_split(len(train), 0.1, seed=0, labels=train.labels)
    fit, val = train.subset(fit_rows), train.subset(val_rows)

    accelerator = make_accelerator(mixed_precision=config.mixed_precision)
    started = time.perf_counter()
    run_dir = output / f"run-{int(time.time())}-{os.getpid()}"
    model, state = pretrain(fit.images, config, seed=0, output_dir=run_dir, accelerator=accelerator, progress=False)
    train_seconds = time.perf_counter() - started
    fit_features = extract_features(model, fit.images)
    val_features = extract_features(model, val.images)
    scores = evaluate_features(
        fit_features,
        fit.labels,
        val_features,
        val.labels,
        val_features,
        val.labels,
        protocols=["knn", "linear"],
        weight_decays=[1e-4],
    )
    record = {
        "dataset": dataset,
        "overrides": overrides,
        "steps": state.step,
        "train_seconds": round(train_seconds, 1),
        "val_knn": scores["validation"]["knn_acc"],
        "val_linear": scores["validation"]["linear_acc"],
        "threads": torch.get_num_threads(),
        "recipe": asdict(config),
    }
    print(json.dumps({k: v for k, v in record.items() if k != "recipe"}))
    with (output / "search.jsonl").open("a") as handle:
        handle.write(json.dumps(record) + "\n")
    shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
