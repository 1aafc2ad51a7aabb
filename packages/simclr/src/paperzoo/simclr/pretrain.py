"""SimCLR pretraining on in-memory images, through the core's ``Trainer``.

Each step takes a batch of uint8 images, draws two random views of every
image on the batched tensor (:class:`~paperzoo.core.augment.ContrastiveAugment`),
runs both views through the network in one forward pass (so batch-norm
statistics cover both, as in the reference implementation) and minimises NT-Xent with
negatives gathered from every process.
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from paperzoo.core.augment import ContrastiveAugment
from paperzoo.core.data import ImageFiles
from paperzoo.core.losses import nt_xent_loss
from paperzoo.core.training import TrainConfig, Trainer, build_lr_scheduler, seed_everything
from paperzoo.core.training.distributed import convert_sync_batchnorm
from paperzoo.core.training.optim import LARS, lars_param_groups
from paperzoo.simclr.config import SimCLRConfig
from paperzoo.simclr.model import SimCLRModel

log = logging.getLogger(__name__)


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """Turn ``(N, H, W, C)`` uint8 images into a contiguous ``(N, C, H, W)`` uint8 tensor."""
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(f"expected (N, H, W, C) uint8 images, got {images.dtype} of shape {images.shape}")
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous()


class _DecodedFiles(Dataset):
    """Decode image files on demand, resized (shorter side) and centre-cropped to a square of ``size``."""

    def __init__(self, files: ImageFiles, size: int):
        from paperzoo.core.data.base import ImageDataset

        self.dataset = ImageDataset("files", "train", None, [], "", images=files)
        self.size = size

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor]:
        return (self.dataset.batch([index], size=self.size)[0],)


def training_data(images: np.ndarray | ImageFiles, config: SimCLRConfig) -> tuple[Dataset, int]:
    """Return the training rows as a data set of ``(C, S, S)`` uint8 tensors, and the side ``S``.

    Arrays are held in memory as they are (they must be square). Image files
    (folders of any size, such as ImageNet) are decoded in the data loader's
    workers and resized so the shorter side is ``crop_size * 8 / 7``
    (256 for 224-pixel views), then centre-cropped to a square.

    Raises:
        ValueError: non-square arrays, or image files without ``crop_size``.
    """
    if isinstance(images, ImageFiles):
        if config.crop_size is None:
            raise ValueError("image files come in many sizes: set --crop-size (224 for ImageNet-style folders)")
        size = round(config.crop_size * 8 / 7)
        return _DecodedFiles(images, size), size
    pixels = images_to_tensor(images)
    height, width = pixels.shape[-2:]
    if height != width:
        raise ValueError(f"SimCLR pretraining expects square images, got {height}x{width}; crop or resize them first")
    return TensorDataset(pixels), height


def channel_stats(images: torch.Tensor) -> tuple[list[float], list[float]]:
    """Return per-channel mean and std of ``(N, C, H, W)`` uint8 images as [0, 1] pixels, repeated to 3 channels."""
    sample = images[: min(len(images), 10_000)].float().div_(255.0)
    mean = sample.mean(dim=(0, 2, 3)).tolist()
    std = sample.std(dim=(0, 2, 3)).clamp(min=1e-3).tolist()
    if len(mean) == 1:
        mean, std = mean * 3, std * 3
    return [float(v) for v in mean], [float(v) for v in std]


def build_augment(config: SimCLRConfig, image_size: int) -> ContrastiveAugment:
    """Return the view generator of ``config`` for square images of side ``image_size``.

    Raises:
        ValueError: when ``crop_size`` exceeds the image side.
    """
    size = config.crop_size or image_size
    if size > image_size:
        raise ValueError(
            f"crop_size {size} is larger than the {image_size}x{image_size} images; "
            f"set --crop-size to at most {image_size}"
        )
    return ContrastiveAugment(
        size=size,
        scale=(config.crop_min_scale, 1.0),
        strength=config.color_strength,
        jitter_prob=config.jitter_prob,
        gray_prob=config.gray_prob,
        blur_prob=config.blur_prob,
    )


def to_model_input(views: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """Repeat grey views to 3 channels, normalise, and set the memory format."""
    if views.shape[1] == 1:
        views = views.expand(-1, 3, -1, -1)
    views = (views - mean) / std
    return views.contiguous(memory_format=torch.channels_last) if channels_last else views.contiguous()


def scaled_lr(config: SimCLRConfig, global_batch: int) -> float:
    """Return the peak learning rate after scaling with the global batch size."""
    if config.lr_scaling == "linear":
        return config.lr * global_batch / 256
    if config.lr_scaling == "sqrt":
        return config.lr * math.sqrt(global_batch)
    return config.lr


def build_optimizer(model: torch.nn.Module, config: SimCLRConfig, lr: float) -> torch.optim.Optimizer:
    """Return LARS, AdamW or SGD over ``model`` with biases and norm layers excluded from weight decay."""
    groups = lars_param_groups(model, config.weight_decay)
    if config.optimizer == "lars":
        return LARS(groups, lr=lr, momentum=config.momentum, trust_coefficient=config.trust_coefficient)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=(config.momentum, 0.999))
    return torch.optim.SGD(groups, lr=lr, momentum=config.momentum)


def plan_steps(config: SimCLRConfig, num_images: int, global_batch: int) -> tuple[int, int]:
    """Return ``(total_steps, warmup_steps)`` for ``num_images`` training images.

    Raises:
        ValueError: when the training rows do not fill one global batch.
    """
    steps_per_epoch = num_images // global_batch
    if steps_per_epoch < 1:
        raise ValueError(f"{num_images} training images do not fill one batch of {global_batch}; lower --batch-size")
    total = config.max_steps or max(1, round(config.epochs * steps_per_epoch))
    warmup = config.warmup_steps if config.warmup_steps is not None else round(config.warmup_epochs * steps_per_epoch)
    return total, min(warmup, total)


def pretrain(
    images: np.ndarray | ImageFiles,
    config: SimCLRConfig,
    *,
    seed: int,
    output_dir: str | os.PathLike,
    accelerator: Any,
    metrics_path: str | os.PathLike | None = None,
    metrics_tags: dict[str, Any] | None = None,
    progress: bool = True,
    num_workers: int = 0,
) -> tuple[SimCLRModel, Any]:
    """Pretrain a SimCLR model on ``images``; resumes from ``output_dir/checkpoints``.

    Args:
        images: ``(N, H, W, C)`` uint8, square, C = 1 or 3, or image files
            (see :func:`training_data`). Labels are never used.
        config: the recipe.
        seed: seeds the weights, the data order and the augmentations.
        output_dir: checkpoints go to ``output_dir/checkpoints``.
        accelerator: from :func:`~paperzoo.core.training.make_accelerator`.
        metrics_path, metrics_tags: where the training metrics go (default
            ``output_dir/metrics.jsonl``) and fields added to each record.
        progress: show a progress bar.
        num_workers: data loader workers (useful for image files).

    Returns:
        The trained model (unwrapped, on the accelerator's device, in eval
        mode) and the final :class:`~paperzoo.core.training.TrainState`.

    Raises:
        ValueError: non-square images, images smaller than the crop, or too
            few images for one batch.
    """
    data, height = training_data(images, config)
    augment = build_augment(config, height)
    global_batch = config.batch_size * accelerator.num_processes
    total_steps, warmup_steps = plan_steps(config, len(data), global_batch)
    peak_lr = scaled_lr(config, global_batch)

    seed_everything(seed)
    mean, std = channel_stats(_stats_sample(data))
    model = SimCLRModel(
        arch=config.arch,
        width=config.width,
        cifar_stem=config.cifar_stem,
        head_layers=config.head_layers,
        head_hidden_dim=config.head_hidden_dim,
        proj_dim=config.proj_dim,
        input_size=augment.size if isinstance(images, ImageFiles) else height,
        mean=mean,
        std=std,
    )
    model = convert_sync_batchnorm(model, accelerator.device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(model, config, peak_lr)
    scheduler = build_lr_scheduler(optimizer, total_steps=total_steps, warmup_steps=warmup_steps, kind="cosine")
    loader = DataLoader(
        data, batch_size=config.batch_size, shuffle=True, drop_last=True, num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )  # fmt: skip
    log.info(
        "pretraining %s (width %d) on %d images: %d steps of %d images (%.1f epochs), peak lr %.4g, %s",
        config.arch, config.width, len(data), total_steps, global_batch,
        total_steps * global_batch / len(data), peak_lr, config.optimizer,
    )  # fmt: skip

    device = accelerator.device
    mean_t = torch.tensor(mean, device=device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, device=device).view(1, 3, 1, 1)
    generator = torch.Generator(device=device)
    rank = accelerator.process_index

    def loss_fn(model: torch.nn.Module, batch: Any, state: Any) -> tuple[torch.Tensor, dict[str, float]]:
        (batch_images,) = batch
        # The views depend on (seed, rank, step) only, so a resumed run draws the same ones.
        generator.manual_seed(seed * 1_000_003 + rank * 7_919 + state.step)
        with torch.no_grad():
            views = augment(torch.cat([batch_images, batch_images]).to(device), generator)
            views = to_model_input(views, mean_t, std_t, config.channels_last)
        _, projections = model(views)
        z_a, z_b = projections.float().chunk(2)
        loss = nt_xent_loss(z_a, z_b, config.temperature)
        return loss, {}

    trainer = Trainer(
        model=model,
        optimizer=optimizer,
        train_loader=loader,
        loss_fn=loss_fn,
        config=TrainConfig(
            max_steps=total_steps,
            log_every=config.log_every,
            checkpoint_every=config.checkpoint_every,
            progress=progress,
        ),
        output_dir=output_dir,
        accelerator=accelerator,
        scheduler=scheduler,
        metrics_path=metrics_path,
        metrics_tags=metrics_tags,
    )
    state = trainer.fit()
    trained = trainer.unwrapped_model.eval()
    return trained, state


def _stats_sample(data: Dataset, count: int = 2_000) -> torch.Tensor:
    """Return up to ``count`` evenly spaced training images as one uint8 tensor."""
    if isinstance(data, TensorDataset):
        return data.tensors[0]
    rows = np.linspace(0, len(data) - 1, min(count, len(data))).astype(int)
    return torch.stack([data[int(i)][0] for i in rows])
