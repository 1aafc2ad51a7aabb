"""Configs of TEMI: the recipe (:class:`TEMIConfig`) and the ``fit`` command (:class:`FitConfig`).

This module imports neither torch nor numpy, so ``paperzoo --help`` stays fast.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from paperzoo.core.config import option, presets_in

PRESETS = presets_in(Path(__file__).parent / "presets")
DEFAULT_PRESET = "cpu-small"


@dataclass
class TEMIConfig:
    """The TEMI recipe. Defaults follow the paper's CIFAR recipe (the ``paper`` preset)."""

    CLI_GROUP: ClassVar[str] = "recipe (the TEMI training settings)"

    num_clusters: int | None = option(None, "number of clusters K; default: the number of classes")
    num_heads: int = option(16, "clustering heads trained in parallel (the lowest-loss one is kept)")
    hidden_dim: int = option(512, "hidden width of each head")
    bottleneck_dim: int = option(256, "bottleneck width before the normalised last layer")
    knn_k: int = option(50, "neighbours per example; a training pair is an example and one of them")
    beta: float = option(0.6, "exponent beta of the weighted PMI loss, in (0, 1]")
    student_temp: float = option(0.1, "softmax temperature of the student")
    teacher_temp: float = option(0.1, "softmax temperature of the teacher")
    prior_momentum: float = option(0.9, "EMA momentum of the teacher's cluster prior")
    instance_weighting: bool = option(True, "weight each pair by the teacher's agreement between its two members")
    teacher_momentum: float = option(0.996, "EMA momentum of the teacher heads")
    teacher_momentum_final: float | None = option(
        None,
        "anneal the teacher momentum on a cosine to this value (the reference code's default is 1.0); none = constant",
    )
    batch_size: int = option(1024, "pairs per optimiser step (per process)")
    epochs: float = option(100, "passes over the training rows")
    min_steps: int = option(
        0,
        "train at least this many optimiser steps; on a small data set every epoch-based setting "
        "(epochs, warm-up, last-layer freeze, checkpoints) is stretched by the same factor",
    )
    lr: float = option(
        4e-4, "peak learning rate, used as given (the paper preset's 4e-4 is the reference's 1e-4 x 1024/256)"
    )
    weight_decay: float = option(1e-4, "AdamW weight decay (biases excluded)")
    warmup_epochs: float = option(20, "linear warm-up length in epochs")
    schedule: str = option(
        "constant", "after warm-up: 'constant' (the reference) or 'cosine' decay", choices=("constant", "cosine")
    )
    final_lr_factor: float = option(0.0, "with the cosine schedule, the final lr as a fraction of the peak")
    freeze_last_layer_epochs: float = option(1, "epochs during which the last layer is not updated")
    standardize: bool = option(False, "standardise embeddings with the training rows' mean and std")
    max_grad_norm: float | None = option(None, "clip the gradient norm to this value; none = no clipping")
    mixed_precision: str = option("no", "'no', 'bf16' or 'fp16' (GPU)", choices=("no", "bf16", "fp16"))
    checkpoint_every_epochs: float = option(1, "epochs between checkpoints")

    def __post_init__(self) -> None:
        if self.num_clusters is not None and self.num_clusters < 2:
            raise ValueError(f"num_clusters must be at least 2, got {self.num_clusters}")
        for name in ("num_heads", "hidden_dim", "bottleneck_dim", "knn_k", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.epochs <= 0:
            raise ValueError(f"epochs must be positive, got {self.epochs}")
        for name in ("warmup_epochs", "freeze_last_layer_epochs"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")
        if not 0.0 < self.beta <= 1.0:
            raise ValueError(f"beta must be in (0, 1], got {self.beta}")
        for name in ("student_temp", "teacher_temp"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0.0 <= self.prior_momentum <= 1.0:
            raise ValueError(f"prior_momentum must be in [0, 1], got {self.prior_momentum}")
        if self.checkpoint_every_epochs <= 0:
            raise ValueError(f"checkpoint_every_epochs must be positive, got {self.checkpoint_every_epochs}")
        if not 0.0 <= self.final_lr_factor <= 1.0:
            raise ValueError(f"final_lr_factor must be in [0, 1], got {self.final_lr_factor}")
        if self.min_steps < 0:
            raise ValueError(f"min_steps must be 0 (off) or positive, got {self.min_steps}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if not 0.0 <= self.teacher_momentum <= 1.0:
            raise ValueError(f"teacher_momentum must be in [0, 1], got {self.teacher_momentum}")


@dataclass
class FitConfig(TEMIConfig):
    """Everything ``paperzoo temi fit`` needs: data, encoder, seeds and the recipe."""

    CLI_GROUP: ClassVar[str] = "data, encoder and run"

    dataset: str = option("digits", "a registered data set (see 'paperzoo datasets')")
    data_dir: str | None = option(None, "folder holding the data set's files (default: PAPERZOO_DATA or the cache)")
    side: str | None = option(None, "language side of multidomain_de_en", choices=("en", "de"))
    train_split: str | None = option(None, "split to fit on (default: the data set's first split)")
    eval_split: str | None = option(
        None, "split to evaluate on (default: the test split when the data set has one, else the fitted split)"
    )
    val_fraction: float = option(0.1, "share of the training split held out for validation (tuning only)")
    features: str | None = option(
        None, "a .npy file of precomputed embeddings (N, D) to cluster instead of embedding --dataset"
    )
    labels: str | None = option(None, "a .npy file of N integer labels for --features, used only for scoring")
    eval_features: str | None = option(None, "a .npy file of held-out embeddings to evaluate on (with --features)")
    eval_labels: str | None = option(None, "a .npy file of labels for --eval-features")
    encoder: str = option("efficientnet_lite0", "frozen encoder (see 'paperzoo encoders')")
    encoder_weights: str | None = option(None, "local weights for the encoder (timm checkpoint, model folder)")
    encoder_precision: str | None = option(
        None, "encoder inference precision; default: the encoder's own (bf16 for images)", choices=("fp32", "bf16")
    )
    embed_batch_size: int | None = option(None, "rows per encoder forward pass")
    seeds: int = option(1, "number of seeds, run one after another (seeds first_seed, first_seed+1, ...)")
    first_seed: int = option(0, "the first seed")
    kmeans_restarts: int = option(10, "k-means restarts of the baseline")
    output_dir: str | None = option(None, "run directory (default: runs/temi/<time>-<dataset>)")
    num_workers: int = option(0, "data loader workers for decoding and tokenising")
    preset: str | None = option(None, "the preset this config started from", cli=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.seeds < 1:
            raise ValueError(f"seeds must be at least 1, got {self.seeds}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if self.features is None and any(v is not None for v in (self.labels, self.eval_features, self.eval_labels)):
            raise ValueError("--labels, --eval-features and --eval-labels need --features")
        if self.kmeans_restarts < 1:
            raise ValueError(f"kmeans_restarts must be at least 1, got {self.kmeans_restarts}")

    def recipe(self) -> TEMIConfig:
        """Return only the recipe fields, as a :class:`TEMIConfig`."""
        return TEMIConfig(**{field.name: getattr(self, field.name) for field in dataclasses.fields(TEMIConfig)})


# Options that may change between a run and its resumption without making it another run.
RESUME_IGNORED = ("num_workers", "embed_batch_size", "output_dir", "data_dir")
