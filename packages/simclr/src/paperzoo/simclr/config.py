"""Configs of SimCLR: the pretraining recipe, the evaluation protocol and the two commands.

This module imports neither torch nor numpy, so ``paperzoo --help`` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import ClassVar

from paperzoo.core.config import option, presets_in

PRESETS = presets_in(Path(__file__).parent / "presets")
DEFAULT_PRESET = "cpu-small"
OPTIMIZERS = ("lars", "adamw", "sgd")
LR_SCALINGS = ("linear", "sqrt", "none")
PROTOCOLS = ("linear", "knn")


@dataclass
class SimCLRConfig:
    """The pretraining recipe. Defaults follow SimCLR's CIFAR-10 recipe (Chen et al., 2020, appendix B.9)."""

    CLI_GROUP: ClassVar[str] = "recipe (the SimCLR pretraining settings)"

    arch: str = option("resnet18", "encoder: a timm ResNet", choices=("resnet18", "resnet34", "resnet50"))
    width: int = option(64, "channels of the first ResNet stage (64 = the standard network; stages double it)")
    cifar_stem: bool = option(True, "3x3 stride-1 first convolution without max-pool, for small images")
    head_layers: int = option(2, "layers of the projection head: 2 (SimCLR v1) or 3 (v2)")
    head_hidden_dim: int | None = option(None, "hidden width of the projection head; none = the encoder's width")
    proj_dim: int = option(128, "output width of the projection head")
    temperature: float = option(0.5, "NT-Xent temperature (0.5 on CIFAR, 0.1 on ImageNet in the paper)")
    batch_size: int = option(512, "images per optimiser step on each process (two views each)")
    max_steps: int | None = option(None, "optimiser steps in total; overrides epochs when set")
    epochs: float = option(1000, "passes over the training rows (used when max_steps is none)")
    optimizer: str = option("lars", "optimiser", choices=OPTIMIZERS)
    lr: float = option(1.0, "base learning rate, scaled by lr_scaling with the global batch size")
    lr_scaling: str = option(
        "linear", "'linear': lr x batch/256, 'sqrt': lr x sqrt(batch), 'none': lr as given", choices=LR_SCALINGS
    )
    weight_decay: float = option(1e-6, "weight decay (biases and norm layers excluded)")
    momentum: float = option(0.9, "momentum of LARS and SGD (AdamW uses beta1 = momentum)")
    trust_coefficient: float = option(0.001, "LARS trust coefficient eta")
    warmup_epochs: float = option(10, "linear warm-up length in epochs")
    warmup_steps: int | None = option(None, "linear warm-up length in steps; overrides warmup_epochs when set")
    crop_size: int | None = option(None, "side of the training views in pixels; none = the image side")
    crop_min_scale: float = option(0.08, "smallest crop area as a share of the image")
    color_strength: float = option(0.5, "colour jitter strength s (0.5 on CIFAR, 1.0 on ImageNet)")
    jitter_prob: float = option(0.8, "probability of colour jitter")
    gray_prob: float = option(0.2, "probability of conversion to grey")
    blur_prob: float = option(0.0, "probability of Gaussian blur (0.5 on ImageNet, 0 on CIFAR)")
    mixed_precision: str = option(
        "no", "'no', 'bf16' (CPU and recent GPUs) or 'fp16' (GPU)", choices=("no", "bf16", "fp16")
    )
    channels_last: bool = option(True, "channels-last memory for the convolutions (faster on CPU)")
    checkpoint_every: int = option(500, "optimiser steps between checkpoints")
    log_every: int = option(10, "optimiser steps between lines of metrics.jsonl")

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise ValueError(
                f"temperature must be > 0, got {self.temperature}; SimCLR uses 0.1 (ImageNet) to 0.5 (CIFAR)"
            )
        if self.batch_size < 2:
            raise ValueError(
                f"batch_size must be at least 2 (NT-Xent takes its negatives from the batch), got {self.batch_size}"
            )
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")
        if self.epochs <= 0:
            raise ValueError(f"epochs must be > 0, got {self.epochs}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.head_layers < 1:
            raise ValueError(f"head_layers must be >= 1, got {self.head_layers}")
        if self.crop_size is not None and self.crop_size < 8:
            raise ValueError(f"crop_size must be at least 8 pixels, got {self.crop_size}")
        if not 0.0 < self.crop_min_scale <= 1.0:
            raise ValueError(f"crop_min_scale must be in (0, 1], got {self.crop_min_scale}")
        if self.width < 1:
            raise ValueError(f"width must be >= 1, got {self.width}")


@dataclass
class EvalConfig:
    """The evaluation protocol of frozen features: kNN and a linear probe."""

    CLI_GROUP: ClassVar[str] = "evaluation (kNN and linear probe)"

    protocol: list[str] = option(["linear", "knn"], "evaluation protocols, comma-separated: linear, knn")
    baselines: list[str] = option(
        ["random_init", "pixels"], "baselines evaluated in the same run, comma-separated: random_init, pixels"
    )
    knn_k: int = option(200, "neighbours of the kNN classifier")
    knn_temperature: float = option(0.1, "temperature of the kNN vote weights exp(cosine / t)")
    linear_weight_decays: list[float] = option(
        [0.0, 1e-5, 1e-4, 1e-3], "L2 penalties tried for the linear probe; the best on the validation rows is kept"
    )
    linear_max_iter: int = option(200, "L-BFGS iterations of the linear probe")
    eval_batch_size: int = option(512, "images per forward pass when extracting features")
    eval_precision: str = option("fp32", "precision of feature extraction", choices=("fp32", "bf16"))

    def __post_init__(self) -> None:
        unknown = sorted(set(self.protocol) - set(PROTOCOLS))
        if unknown or not self.protocol:
            raise ValueError(f"unknown protocol(s) {unknown or '(none given)'}; choose from {', '.join(PROTOCOLS)}")
        unknown = sorted(set(self.baselines) - {"random_init", "pixels"})
        if unknown:
            raise ValueError(f"unknown baseline(s) {unknown}; choose from random_init, pixels")
        if self.knn_k < 1:
            raise ValueError(f"knn_k must be >= 1, got {self.knn_k}")
        if self.knn_temperature <= 0:
            raise ValueError(f"knn_temperature must be > 0, got {self.knn_temperature}")
        if not self.linear_weight_decays or min(self.linear_weight_decays) < 0:
            raise ValueError(f"linear_weight_decays must be non-negative values, got {self.linear_weight_decays}")


@dataclass
class DataConfig:
    """The data a command reads, and the share of it held out as validation rows."""

    CLI_GROUP: ClassVar[str] = "data"

    dataset: str = option("cifar10", "a registered image data set (see 'paperzoo datasets')")
    data_dir: str | None = option(None, "folder holding the data set's files (default: PAPERZOO_DATA or the cache)")
    train_split: str | None = option(None, "split to pretrain and fit the probes on (default: the first split)")
    eval_split: str | None = option(None, "split to report (default: the test split)")
    val_fraction: float = option(0.1, "share of the training split held out for validation (tuning only)")
    max_train_rows: int | None = option(None, "use only this many training rows (quick trials); none = all")
    num_workers: int = option(0, "data loader workers decoding image files (folders); arrays need none")

    def __post_init__(self) -> None:
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if self.max_train_rows is not None and self.max_train_rows < 2:
            raise ValueError(f"max_train_rows must be >= 2, got {self.max_train_rows}")


@dataclass
class PretrainConfig(SimCLRConfig, EvalConfig, DataConfig):
    """Everything ``paperzoo simclr pretrain`` needs."""

    CLI_GROUP: ClassVar[str] = "seeds and run"

    seeds: int = option(1, "number of seeds, run one after another (first_seed, first_seed + 1, ...)")
    first_seed: int = option(0, "the first seed")
    evaluate: bool = option(True, "evaluate the encoder (and the baselines) at the end")
    output_dir: str | None = option(None, "run directory (default: runs/simclr/<time>-<dataset>)")
    preset: str | None = option(None, "the preset this config started from", cli=False)

    def __post_init__(self) -> None:
        SimCLRConfig.__post_init__(self)
        EvalConfig.__post_init__(self)
        DataConfig.__post_init__(self)
        if self.seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {self.seeds}")

    def recipe(self) -> SimCLRConfig:
        """Return only the recipe fields."""
        return SimCLRConfig(**{field.name: getattr(self, field.name) for field in fields(SimCLRConfig)})

    def evaluation(self) -> EvalConfig:
        """Return only the evaluation fields."""
        return EvalConfig(**{field.name: getattr(self, field.name) for field in fields(EvalConfig)})


@dataclass
class EvaluateConfig(EvalConfig, DataConfig):
    """Everything ``paperzoo simclr evaluate`` needs."""

    CLI_GROUP: ClassVar[str] = "model and run"

    model: str = option("", "a pretraining run directory or an encoder folder written by it")
    seed: int = option(0, "seed of the linear probe and of the random-init baseline")
    output_dir: str | None = option(None, "where results.json goes (default: runs/simclr/<time>-eval-<dataset>)")

    def __post_init__(self) -> None:
        EvalConfig.__post_init__(self)
        DataConfig.__post_init__(self)
        if not self.model:
            raise ValueError("--model is required: a pretraining run directory or its encoder folder")


# Options that may change between a run and its resumption without making it another run.
RESUME_IGNORED = (
    "output_dir", "data_dir", "num_workers", "checkpoint_every", "log_every", "eval_batch_size", "evaluate",
)  # fmt: skip
