"""Worker launched by test_distributed.py, once under torchrun and once alone.

Usage: python distributed_worker.py MODE OUTPUT_DIR PER_PROCESS_BATCH
MODE is "linear" (the core Trainer on a regression), "embed" (sharded
embedding) or "temi" (TEMI heads on Gaussian blobs). Rank 0 writes
OUTPUT_DIR/result.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from paperzoo.core.training import TrainConfig, Trainer, make_accelerator, seed_everything
from paperzoo.core.training.distributed import shutdown


class IndexedRegression(Dataset):
    def __init__(self, n: int = 64):
        generator = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 5, generator=generator, dtype=torch.float64)
        self.y = self.x @ torch.arange(1.0, 6.0, dtype=torch.float64) + 0.5

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int):
        return index, self.x[index], self.y[index]


def run_linear(output: Path, batch_size: int) -> dict:
    accelerator = make_accelerator()
    seed_everything(0)
    model = nn.Linear(5, 1).double()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    loader = DataLoader(IndexedRegression(), batch_size=batch_size, shuffle=False)
    seen: list[list[int]] = []

    def loss_fn(model, batch, state):
        index, x, y = batch
        seen.append(index.tolist())
        return nn.functional.mse_loss(model(x).squeeze(1), y)

    trainer = Trainer(
        model=model,
        optimizer=optimizer,
        train_loader=loader,
        loss_fn=loss_fn,
        config=TrainConfig(max_steps=12, progress=False),
        output_dir=output / f"train-rank{accelerator.process_index}",
        accelerator=accelerator,
    )
    trainer.fit(resume=False)
    all_seen = [None] * accelerator.num_processes
    if accelerator.num_processes > 1:
        torch.distributed.all_gather_object(all_seen, seen)
    else:
        all_seen = [seen]
    unwrapped = trainer.unwrapped_model
    return {
        "world_size": accelerator.num_processes,
        "distributed_type": str(accelerator.distributed_type),
        "weight": unwrapped.weight.detach().flatten().tolist(),
        "bias": unwrapped.bias.detach().tolist(),
        "first_batches": [ranks[0] for ranks in all_seen],
    }


class _Pool(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x):
        return self.conv(x).amax(dim=(2, 3))


def run_embed(output: Path, batch_size: int) -> dict:
    from paperzoo.core.data import load_dataset
    from paperzoo.core.features import ImageEncoder, embed

    accelerator = make_accelerator()
    digits = load_dataset("digits").subset(np.arange(301))
    encoder = ImageEncoder("toy-distributed", _Pool(), 8, 16, [0.5] * 3, [0.5] * 3)
    vectors = embed(digits, encoder, batch_size=batch_size, accelerator=accelerator, show_progress=False)
    return {"world_size": accelerator.num_processes, "embeddings": np.asarray(vectors).tolist()}


def run_temi(output: Path, batch_size: int) -> dict:
    from paperzoo.temi import TEMI, TEMIConfig

    accelerator = make_accelerator()
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16)) * 3
    x = (centres[rng.integers(0, 3, 256)] + rng.normal(size=(256, 16))).astype(np.float32)
    config = TEMIConfig(
        num_heads=2, hidden_dim=32, bottleneck_dim=16, knn_k=8, batch_size=batch_size, epochs=3,
        lr=1e-3, warmup_epochs=1, teacher_momentum=0.9,
    )  # fmt: skip
    model = TEMI(config).fit(
        x,
        num_clusters=3,
        seed=0,
        accelerator=accelerator,
        progress=False,
        output_dir=output / f"temi-rank{accelerator.process_index}",
    )
    return {
        "world_size": accelerator.num_processes,
        "steps": model.train_state_.step,
        "w1": model.model_.w1.detach().flatten()[:200].tolist(),
        "prior": model.prior_.tolist(),
    }


def main() -> None:
    mode, output, batch_size = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    output.mkdir(parents=True, exist_ok=True)
    result = {"linear": run_linear, "embed": run_embed, "temi": run_temi}[mode](output, batch_size)
    if int(__import__("os").environ.get("RANK", "0")) == 0:
        (output / "result.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
    shutdown()  # after main() has returned, so the wrapped model is gone
