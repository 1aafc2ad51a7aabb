"""Worker launched by test_simclr_distributed.py, once under torchrun and once alone.

Usage: python simclr_distributed_worker.py OUTPUT_DIR

A fixed global batch of 8 image pairs (random vectors) goes through a linear
projection wrapped by ``accelerator.prepare``; each of W processes takes
8 / W consecutive pairs. Rank 0 writes the loss averaged over processes, the
synchronised gradient of the projection, and the gradients of every
process's input rows to OUTPUT_DIR/result.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from torch import nn

from paperzoo.core.losses import nt_xent_loss
from paperzoo.core.training import make_accelerator
from paperzoo.core.training.distributed import shutdown


def main() -> None:
    output = Path(sys.argv[1])
    output.mkdir(parents=True, exist_ok=True)
    accelerator = make_accelerator()
    world, rank = accelerator.num_processes, accelerator.process_index

    generator = torch.Generator().manual_seed(0)
    x_a = torch.randn(8, 6, generator=generator, dtype=torch.float64)
    x_b = x_a + 0.3 * torch.randn(8, 6, generator=generator, dtype=torch.float64)
    rows = slice(rank * 8 // world, (rank + 1) * 8 // world)
    x_a = x_a[rows].clone().requires_grad_(True)
    x_b = x_b[rows].clone().requires_grad_(True)

    torch.manual_seed(0)
    model = accelerator.prepare(nn.Linear(6, 4).double())
    loss = nt_xent_loss(model(x_a), model(x_b), temperature=0.5)
    accelerator.backward(loss)

    weight_grad = accelerator.unwrap_model(model).weight.grad
    mean_loss = accelerator.reduce(loss.detach(), reduction="mean")
    input_grads = accelerator.gather(torch.cat([x_a.grad, x_b.grad], dim=1))
    if accelerator.is_main_process:
        result = {
            "world_size": world,
            "loss": float(mean_loss),
            "weight_grad": weight_grad.flatten().tolist(),
            "input_grads": input_grads.tolist(),
        }
        (output / "result.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
    shutdown()  # after main() has returned, so the wrapped model is gone
