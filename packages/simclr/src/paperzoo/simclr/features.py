"""Feature extraction from a SimCLR encoder held in memory."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from paperzoo.simclr.pretrain import images_to_tensor, to_model_input


@torch.inference_mode()
def extract_features(
    model: nn.Module, images: np.ndarray, *, batch_size: int = 512, precision: str = "fp32"
) -> np.ndarray:
    """Return the pooled encoder features ``(N, F)`` float32 of ``(N, H, W, C)`` uint8 images.

    The model is put in eval mode and run under ``torch.inference_mode``, so
    neither its weights nor its batch-norm statistics can change. Pixels are
    normalised with the mean and std recorded in the model.
    """
    model.eval()
    encoder = model.encoder
    device = next(model.parameters()).device
    mean = torch.tensor(model.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(model.std, device=device).view(1, 3, 1, 1)
    channels_last = next(encoder.parameters()).is_contiguous(memory_format=torch.channels_last)
    pixels = images_to_tensor(images)
    outputs = []
    for start in range(0, len(pixels), batch_size):
        batch = pixels[start : start + batch_size].to(device).float().div_(255.0)
        batch = to_model_input(batch, mean, std, channels_last)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            outputs.append(encoder(batch).float().cpu())
    return torch.cat(outputs).numpy()
