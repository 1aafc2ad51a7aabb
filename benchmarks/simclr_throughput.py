"""Images per second of one SimCLR pretraining step on CPU, and the share spent on augmentation.

Usage: python benchmarks/simclr_throughput.py [--preset cpu-small] [--steps S]

One step is what ``paperzoo simclr pretrain`` does: draw two views of every
image of a batch on the batched tensor, forward both views through the
network in one pass, NT-Xent, backward and an optimiser step. The script
times float32 (contiguous memory), float32 with channels-last and bfloat16
autocast with channels-last, alternating between them step by step, so the
ratios hold even on a busy machine. Pairs/s counts images (each image gives
two views).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import yaml

from paperzoo.core.losses import nt_xent_loss
from paperzoo.simclr.config import PRESETS, SimCLRConfig
from paperzoo.simclr.model import SimCLRModel
from paperzoo.simclr.pretrain import build_augment, build_optimizer, to_model_input


def make_step(config: SimCLRConfig, precision: str, channels_last: bool, images: torch.Tensor):
    torch.manual_seed(0)
    model = SimCLRModel(
        arch=config.arch, width=config.width, cifar_stem=config.cifar_stem, head_layers=config.head_layers,
        head_hidden_dim=config.head_hidden_dim, proj_dim=config.proj_dim,
    )  # fmt: skip
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(model, config, 1e-3)
    augment = build_augment(config, images.shape[-1])
    mean = torch.full((1, 3, 1, 1), 0.5)
    std = torch.full((1, 3, 1, 1), 0.25)
    generator = torch.Generator().manual_seed(0)

    def step() -> tuple[float, float]:
        started = time.perf_counter()
        with torch.no_grad():
            views = to_model_input(augment(torch.cat([images, images]), generator), mean, std, channels_last)
        augmented = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            _, projections = model(views)
        loss = nt_xent_loss(*projections.float().chunk(2), config.temperature)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return augmented - started, time.perf_counter() - augmented

    return step


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="cpu-small", choices=sorted(PRESETS))
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--image-size", type=int, default=32)
    args = parser.parse_args()
    preset = yaml.safe_load(PRESETS[args.preset].read_text())
    config = SimCLRConfig(**{key: value for key, value in preset.items() if key in SimCLRConfig.__dataclass_fields__})
    images = torch.randint(0, 256, (config.batch_size, 3, args.image_size, args.image_size), dtype=torch.uint8)
    variants = {
        "float32": make_step(config, "fp32", False, images),
        "float32 + channels-last": make_step(config, "fp32", True, images),
        "bfloat16 autocast + channels-last": make_step(config, "bf16", True, images),
    }
    for step in variants.values():
        step()  # warm-up: oneDNN builds its kernels on the first call
    timings: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for _ in range(args.steps):
        for name, step in variants.items():
            timings[name].append(step())

    print(
        f"preset {args.preset}: batch {config.batch_size}, views {build_augment(config, args.image_size).size} px, "
        f"{config.arch} width {config.width}; torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print("| precision | step ms (median) | augmentation ms | pairs/s | views/s | augmentation share |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, values in timings.items():
        augment_ms = statistics.median(a for a, _ in values) * 1000
        step_ms = statistics.median(a + m for a, m in values) * 1000
        pairs = config.batch_size / (step_ms / 1000)
        share = augment_ms / step_ms
        print(f"| {name} | {step_ms:.0f} | {augment_ms:.0f} | {pairs:.0f} | {2 * pairs:.0f} | {share:.1%} |")


if __name__ == "__main__":
    main()
