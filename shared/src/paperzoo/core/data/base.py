"""In-memory containers for labelled data sets.

Every reader returns one of these, so methods, encoders and metrics work the
same way on a bundled toy set, a public benchmark or a user's own folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from paperzoo.core.files import fingerprint_value


@dataclass
class LabelledDataset:
    """Fields shared by every data set.

    Attributes:
        name: the registry name, e.g. ``"cifar10"``.
        split: the split this object holds, e.g. ``"train"`` or ``"test"``.
        labels: ``(N,)`` int64 class ids, or ``None`` for unlabelled data.
        classes: class names indexed by label id.
        fingerprint: a hash of the source files, the split and the options,
            used as the cache key of anything derived from this data.
    """

    name: str
    split: str
    labels: np.ndarray | None
    classes: list[str]
    fingerprint: str

    modality = "unknown"

    def __len__(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def _subset_fields(self, indices: np.ndarray) -> dict:
        labels = None if self.labels is None else self.labels[indices]
        fingerprint = fingerprint_value({"parent": self.fingerprint, "indices": indices.tolist()})
        return {"labels": labels, "fingerprint": fingerprint}


class ImageFiles(Sequence):
    """Lazily decoded image files, for folders too large to hold in memory.

    Indexing returns an ``(H, W, 3)`` uint8 array; sizes may differ per image.
    """

    def __init__(self, paths: Sequence[str | Path]):
        self.paths = [str(p) for p in paths]

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return ImageFiles(self.paths[index])
        from PIL import Image

        with Image.open(self.paths[index]) as image:
            return np.asarray(image.convert("RGB"))


@dataclass
class ImageDataset(LabelledDataset):
    """Images with labels.

    Attributes:
        images: ``(N, H, W, C)`` uint8 array with C = 1 or 3, or an
            :class:`ImageFiles` sequence of variable-size RGB images.
    """

    images: np.ndarray | ImageFiles = field(default_factory=lambda: np.zeros((0, 1, 1, 3), np.uint8))

    modality = "image"

    def __len__(self) -> int:
        return len(self.images)

    @property
    def channels(self) -> int:
        return self.images.shape[-1] if isinstance(self.images, np.ndarray) else 3

    def subset(self, indices: np.ndarray) -> ImageDataset:
        """Return the rows ``indices`` as a new data set (arrays are copied)."""
        indices = np.asarray(indices, dtype=np.int64)
        if isinstance(self.images, np.ndarray):
            images = self.images[indices]
        else:
            images = ImageFiles([self.images.paths[i] for i in indices])
        return replace(self, images=images, **self._subset_fields(indices))

    def batch(self, indices: Sequence[int] | np.ndarray, size: int | None = None) -> torch.Tensor:
        """Return images ``indices`` as a ``(B, C, H, W)`` uint8 tensor.

        Args:
            indices: row numbers.
            size: for :class:`ImageFiles`, resize the shorter side to ``size``
                and centre-crop a square, so the batch can be stacked. Arrays
                are returned at their stored size whatever ``size`` is.
        """
        if isinstance(self.images, np.ndarray):
            array = self.images[np.asarray(indices)]
            return torch.from_numpy(np.ascontiguousarray(array)).permute(0, 3, 1, 2)
        if size is None:
            raise ValueError("size is required to stack images decoded from files of different sizes")
        return torch.stack([_resize_center_crop(self.images[int(i)], size) for i in indices])


def _resize_center_crop(image: np.ndarray, size: int) -> torch.Tensor:
    from PIL import Image

    pil = Image.fromarray(image)
    scale = size / min(pil.size)
    width, height = max(size, round(pil.size[0] * scale)), max(size, round(pil.size[1] * scale))
    pil = pil.resize((width, height), Image.Resampling.BICUBIC)
    left, top = (width - size) // 2, (height - size) // 2
    pil = pil.crop((left, top, left + size, top + size))
    return torch.from_numpy(np.asarray(pil).copy()).permute(2, 0, 1)


@dataclass
class TextDataset(LabelledDataset):
    """Texts with labels.

    Attributes:
        texts: one string per example.
    """

    texts: list[str] = field(default_factory=list)

    modality = "text"

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: np.ndarray) -> TextDataset:
        """Return the rows ``indices`` as a new data set."""
        indices = np.asarray(indices, dtype=np.int64)
        return replace(self, texts=[self.texts[i] for i in indices], **self._subset_fields(indices))
