"""Random image augmentations applied to whole batches of tensors.

Contrastive methods (SimCLR, contrastive clustering) draw two random views of
every image at every step. Per-image PIL transforms in data loader workers
starve a small CPU, so each transform here draws one parameter per image and
applies it to the whole ``(B, C, H, W)`` batch with a few tensor operations.
The parameter ranges follow torchvision's ``RandomResizedCrop``,
``RandomHorizontalFlip``, ``ColorJitter``, ``RandomGrayscale`` and
``GaussianBlur``.

Images are float tensors in [0, 1] with 1 (grey) or 3 (RGB) channels.
Every random draw takes an optional ``torch.Generator``, so a seeded run
draws the same views again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def _uniform(low: float, high: float, size: int, generator: torch.Generator | None, device) -> torch.Tensor:
    return torch.rand(size, generator=generator, device=device) * (high - low) + low


def _bernoulli(p: float, size: int, generator: torch.Generator | None, device) -> torch.Tensor:
    return torch.rand(size, generator=generator, device=device) < p


def _check_images(images: torch.Tensor) -> None:
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected images of shape (B, 1 or 3, H, W), got {tuple(images.shape)}")
    if not images.dtype.is_floating_point:
        raise ValueError(f"expected float images in [0, 1], got dtype {images.dtype}; divide uint8 pixels by 255")


def sample_crop_boxes(
    batch_size: int,
    height: int,
    width: int,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0),
    *,
    attempts: int = 10,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Draw one random crop box per image, as ``RandomResizedCrop`` does.

    Each image gets up to ``attempts`` draws of (area share, log aspect ratio);
    the first box that fits inside the image is kept. An image with no fitting
    draw gets the central crop with the aspect ratio clamped to ``ratio``.

    Returns:
        ``(B, 4)`` float tensor of ``(top, left, crop_height, crop_width)`` in pixels.
    """
    if not 0.0 < scale[0] <= scale[1] <= 1.0:
        raise ValueError(f"crop scale must satisfy 0 < min <= max <= 1, got {scale}")
    if not 0.0 < ratio[0] <= ratio[1]:
        raise ValueError(f"crop ratio must satisfy 0 < min <= max, got {ratio}")
    area = float(height * width)
    shares = _uniform(scale[0], scale[1], batch_size * attempts, generator, device).view(batch_size, attempts)
    log_ratio = _uniform(math.log(ratio[0]), math.log(ratio[1]), batch_size * attempts, generator, device)
    aspect = torch.exp(log_ratio).view(batch_size, attempts)
    crop_w = torch.round(torch.sqrt(area * shares * aspect))
    crop_h = torch.round(torch.sqrt(area * shares / aspect))
    fits = (crop_w > 0) & (crop_h > 0) & (crop_w <= width) & (crop_h <= height)

    # Index of the first attempt that fits; rows without one fall back below.
    first = torch.argmax(fits.int(), dim=1)
    found = fits.any(dim=1)
    rows = torch.arange(batch_size, device=device)
    crop_h, crop_w = crop_h[rows, first], crop_w[rows, first]

    image_ratio = width / height
    if image_ratio < ratio[0]:
        fallback_w, fallback_h = width, round(width / ratio[0])
    elif image_ratio > ratio[1]:
        fallback_h, fallback_w = height, round(height * ratio[1])
    else:
        fallback_h, fallback_w = height, width
    crop_h = torch.where(found, crop_h, torch.full_like(crop_h, fallback_h))
    crop_w = torch.where(found, crop_w, torch.full_like(crop_w, fallback_w))

    top = torch.floor(torch.rand(batch_size, generator=generator, device=device) * (height - crop_h + 1))
    left = torch.floor(torch.rand(batch_size, generator=generator, device=device) * (width - crop_w + 1))
    top = torch.where(found, top, torch.div(height - crop_h, 2, rounding_mode="floor"))
    left = torch.where(found, left, torch.div(width - crop_w, 2, rounding_mode="floor"))
    return torch.stack([top, left, crop_h, crop_w], dim=1)


def resized_crop(
    images: torch.Tensor, boxes: torch.Tensor, size: int | tuple[int, int], flip: torch.Tensor | None = None
) -> torch.Tensor:
    """Cut ``boxes`` out of ``images`` and resize them to ``size`` (bilinear), flipping where asked.

    One ``grid_sample`` call does the crop, the resize and the flip for the
    whole batch. Sampling points sit at pixel centres, as in torchvision's
    bilinear resize without anti-aliasing.

    Args:
        images: ``(B, C, H, W)`` float.
        boxes: ``(B, 4)`` from :func:`sample_crop_boxes`.
        size: output side, or ``(height, width)``.
        flip: ``(B,)`` bool, mirror those crops left to right.

    Returns:
        ``(B, C, size_h, size_w)``.
    """
    out_h, out_w = (size, size) if isinstance(size, int) else size
    batch, _, height, width = images.shape
    boxes = boxes.to(images.dtype)
    top, left, crop_h, crop_w = boxes.unbind(1)

    # Centres of the output pixels in input pixel coordinates, then in [-1, 1].
    steps_y = (torch.arange(out_h, device=images.device, dtype=images.dtype) + 0.5) / out_h
    steps_x = (torch.arange(out_w, device=images.device, dtype=images.dtype) + 0.5) / out_w
    if flip is not None:
        steps_x = torch.where(flip[:, None], 1.0 - steps_x[None, :], steps_x[None, :])
    else:
        steps_x = steps_x.expand(batch, out_w)
    y = top[:, None] + crop_h[:, None] * steps_y[None, :]
    x = left[:, None] + crop_w[:, None] * steps_x
    y = y * (2.0 / height) - 1.0
    x = x * (2.0 / width) - 1.0
    grid = torch.stack([x[:, None, :].expand(batch, out_h, out_w), y[:, :, None].expand(batch, out_h, out_w)], dim=-1)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def to_grayscale(images: torch.Tensor) -> torch.Tensor:
    """Return the ITU-R 601 luma ``(B, 1, H, W)`` of RGB images (grey images are returned as they are)."""
    if images.shape[1] == 1:
        return images
    red, green, blue = images.unbind(1)
    return (0.299 * red + 0.587 * green + 0.114 * blue).unsqueeze(1)


# ITU-R 601 luma weights, and the RGB <-> YIQ matrices used for hue rotation.
_LUMA = (0.299, 0.587, 0.114)
_RGB_TO_YIQ = (
    (0.299, 0.587, 0.114),
    (0.595716, -0.274453, -0.321263),
    (0.211456, -0.522591, 0.311135),
)


def _hue_matrices(shift: torch.Tensor) -> torch.Tensor:
    """Return ``(B, 3, 3)`` RGB matrices that rotate the hue by ``shift`` turns in the YIQ plane."""
    to_yiq = torch.tensor(_RGB_TO_YIQ, dtype=shift.dtype, device=shift.device)
    angle = shift * (2.0 * math.pi)
    cos, sin = torch.cos(angle), torch.sin(angle)
    rotation = torch.zeros(len(shift), 3, 3, dtype=shift.dtype, device=shift.device)
    rotation[:, 0, 0] = 1.0
    rotation[:, 1, 1], rotation[:, 1, 2] = cos, -sin
    rotation[:, 2, 1], rotation[:, 2, 2] = sin, cos
    return torch.linalg.inv(to_yiq) @ rotation @ to_yiq


def color_jitter(
    images: torch.Tensor,
    brightness: float,
    contrast: float,
    saturation: float,
    hue: float,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Jitter brightness, contrast, saturation and hue in a random order per image.

    Factors are drawn per image from ``[max(0, 1 - x), 1 + x]`` for brightness,
    contrast and saturation and from ``[-hue, hue]`` (in turns of the colour
    wheel) for the hue shift, as in torchvision's ``ColorJitter``, and each
    image gets its own order of the four operations.

    Every operation is an affine map of the pixel colours, so the four are
    composed into one ``C x C`` matrix and offset per image and applied with
    a single batched matrix product. This differs from torchvision in two
    ways: pixels are clamped to [0, 1] once at the end instead of after every
    operation, and the hue is rotated in the YIQ colour plane instead of
    shifted in HSV. Contrast blends with the grey mean of the image as it is
    at that point of the order, as torchvision does. Saturation and hue leave
    grey (1-channel) images unchanged.

    Args:
        images: ``(B, C, H, W)`` floats in [0, 1], C = 1 or 3.
        brightness, contrast, saturation: jitter ranges, each >= 0.
        hue: hue jitter range in [0, 0.5].
        generator: source of randomness.

    Returns:
        ``(B, C, H, W)`` jittered images in [0, 1].
    """
    _check_images(images)
    if not 0.0 <= hue <= 0.5:
        raise ValueError(f"hue jitter must be in [0, 0.5], got {hue}")
    for name, value in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation)):
        if value < 0:
            raise ValueError(f"{name} jitter must be >= 0, got {value}")
    batch, channels = images.shape[:2]
    device, dtype = images.device, torch.float32
    factors = [
        _uniform(max(0.0, 1.0 - brightness), 1.0 + brightness, batch, generator, device),
        _uniform(max(0.0, 1.0 - contrast), 1.0 + contrast, batch, generator, device),
        _uniform(max(0.0, 1.0 - saturation), 1.0 + saturation, batch, generator, device),
        _uniform(-hue, hue, batch, generator, device),
    ]
    order = torch.argsort(torch.rand(batch, 4, generator=generator, device=device), dim=1)

    eye = torch.eye(channels, dtype=dtype, device=device).expand(batch, channels, channels)
    luma = torch.tensor(_LUMA if channels == 3 else (1.0,), dtype=dtype, device=device)
    grey_projection = torch.ones(channels, 1, dtype=dtype, device=device) @ luma[None, :]  # every row is the luma
    channel_mean = images.float().mean(dim=(2, 3))  # (B, C): the mean colour, mapped along with the matrix
    matrix, offset = eye.clone(), torch.zeros(batch, channels, dtype=dtype, device=device)
    for position in range(4):
        for operation in range(4):
            chosen = (order[:, position] == operation).view(batch, 1, 1)
            factor = factors[operation].view(batch, 1, 1)
            if operation == 0:  # brightness: scale
                step, shift = eye * factor, torch.zeros_like(offset)
            elif operation == 1:  # contrast: blend with the grey mean of the current image
                current_mean = torch.einsum("bij,bj->bi", matrix, channel_mean) + offset
                grey_mean = current_mean @ luma
                step = eye * factor
                shift = (1.0 - factor.view(batch, 1)) * grey_mean[:, None].expand(batch, channels)
            elif operation == 2 and channels == 3:  # saturation: blend with the grey image
                step, shift = factor * eye + (1.0 - factor) * grey_projection, torch.zeros_like(offset)
            elif operation == 3 and channels == 3:  # hue: rotate in the YIQ plane
                step, shift = _hue_matrices(factors[3]), torch.zeros_like(offset)
            else:
                continue
            matrix = torch.where(chosen, step @ matrix, matrix)
            offset = torch.where(chosen.view(batch, 1), torch.einsum("bij,bj->bi", step, offset) + shift, offset)

    flat = images.reshape(batch, channels, -1).to(dtype)
    jittered = torch.baddbmm(offset[:, :, None], matrix, flat)
    return jittered.clamp_(0.0, 1.0).view_as(images).to(images.dtype)


def gaussian_blur(images: torch.Tensor, sigma: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Blur each image with its own Gaussian ``sigma`` (pixels) and a separable ``kernel_size`` kernel.

    Borders are reflected (replicated where the image is smaller than the
    kernel's radius). ``kernel_size`` must be odd. The kernel is applied as a
    weighted sum of shifted copies, which on a CPU is faster than a grouped
    convolution with one group per image and channel.
    """
    if kernel_size % 2 != 1 or kernel_size < 1:
        raise ValueError(f"blur kernel_size must be a positive odd number, got {kernel_size}")
    batch, _, height, width = images.shape
    radius = kernel_size // 2
    offsets = torch.arange(-radius, radius + 1, device=images.device, dtype=images.dtype)
    kernel = torch.exp(-(offsets[None, :] ** 2) / (2.0 * sigma.to(images.dtype)[:, None] ** 2))
    kernel = (kernel / kernel.sum(dim=1, keepdim=True)).view(batch, kernel_size, 1, 1, 1)

    def pad(tensor: torch.Tensor, left: int, right: int, top: int, bottom: int) -> torch.Tensor:
        mode = "reflect" if max(left, right) < tensor.shape[-1] and max(top, bottom) < tensor.shape[-2] else "replicate"
        return F.pad(tensor, (left, right, top, bottom), mode=mode)

    padded = pad(images, radius, radius, 0, 0)
    rows = sum(kernel[:, k] * padded[..., :, k : k + width] for k in range(kernel_size))
    padded = pad(rows, 0, 0, radius, radius)
    return sum(kernel[:, k] * padded[..., k : k + height, :] for k in range(kernel_size))


@dataclass
class ContrastiveAugment:
    """SimCLR's view generator on batches: crop, flip, colour jitter, greyscale, blur.

    With strength ``s`` the colour jitter is brightness, contrast and
    saturation ``0.8 s`` and hue ``0.2 s``, applied with probability
    ``jitter_prob``. The SimCLR ImageNet recipe is ``s = 1`` with blur
    (probability 0.5, sigma in [0.1, 2], kernel 10 % of the side); the CIFAR
    recipe is ``s = 0.5`` without blur (``blur_prob = 0``).

    Attributes:
        size: output side in pixels; the input must be at least this large.
        scale: range of the crop's share of the image area.
        ratio: range of the crop's aspect ratio (width / height).
        flip_prob: probability of a horizontal flip.
        strength: colour jitter strength ``s``.
        jitter_prob: probability of colour jitter.
        gray_prob: probability of conversion to grey (kept with all channels).
        blur_prob: probability of Gaussian blur.
        blur_sigma: range of the blur's sigma in pixels of the output.
        mean, std: per-channel normalisation applied last; ``None`` skips it.
    """

    size: int
    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0)
    flip_prob: float = 0.5
    strength: float = 1.0
    jitter_prob: float = 0.8
    gray_prob: float = 0.2
    blur_prob: float = 0.5
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"augmentation output size must be >= 1 pixel, got {self.size}")
        for name in ("flip_prob", "jitter_prob", "gray_prob", "blur_prob"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value}")
        if self.strength < 0:
            raise ValueError(f"colour jitter strength must be >= 0, got {self.strength}")
        if not 0.0 < self.blur_sigma[0] <= self.blur_sigma[1]:
            raise ValueError(f"blur_sigma must satisfy 0 < min <= max, got {self.blur_sigma}")
        self.scale = tuple(self.scale)
        self.ratio = tuple(self.ratio)
        sample_crop_boxes(1, self.size, self.size, self.scale, self.ratio)

    @property
    def blur_kernel_size(self) -> int:
        """Odd kernel side, about 10 % of the output side (SimCLR's choice)."""
        return max(3, int(0.1 * self.size) // 2 * 2 + 1)

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Return one random view of each image.

        Args:
            images: ``(B, C, H, W)`` uint8 pixels or floats in [0, 1], C = 1 or 3.
            generator: source of randomness (``None``: torch's global one).

        Returns:
            ``(B, C, size, size)`` float32 views, normalised when ``mean`` and
            ``std`` are set.

        Raises:
            ValueError: images smaller than ``size``, or of the wrong shape.
        """
        if images.dtype == torch.uint8:
            images = images.float().div_(255.0)
        _check_images(images)
        batch, _, height, width = images.shape
        if height < self.size or width < self.size:
            raise ValueError(
                f"images of {height}x{width} pixels are smaller than the crop size {self.size}; "
                f"set the crop size to at most {min(height, width)} or upscale the images first"
            )
        device = images.device

        boxes = sample_crop_boxes(batch, height, width, self.scale, self.ratio, generator=generator, device=device)
        flip = _bernoulli(self.flip_prob, batch, generator, device)
        views = resized_crop(images, boxes, self.size, flip)

        if self.strength > 0 and self.jitter_prob > 0:
            rows = torch.nonzero(_bernoulli(self.jitter_prob, batch, generator, device)).flatten()
            s = self.strength
            views[rows] = color_jitter(views[rows], 0.8 * s, 0.8 * s, 0.8 * s, min(0.5, 0.2 * s), generator=generator)
        if self.gray_prob > 0 and views.shape[1] == 3:
            rows = torch.nonzero(_bernoulli(self.gray_prob, batch, generator, device)).flatten()
            views[rows] = to_grayscale(views[rows]).expand(-1, 3, -1, -1)
        if self.blur_prob > 0:
            rows = torch.nonzero(_bernoulli(self.blur_prob, batch, generator, device)).flatten()
            if len(rows):
                sigma = _uniform(self.blur_sigma[0], self.blur_sigma[1], len(rows), generator, device)
                views[rows] = gaussian_blur(views[rows], sigma, self.blur_kernel_size)
        if self.mean is not None and self.std is not None:
            mean = torch.tensor(self.mean, dtype=views.dtype, device=device).view(1, -1, 1, 1)
            std = torch.tensor(self.std, dtype=views.dtype, device=device).view(1, -1, 1, 1)
            views = (views - mean) / std
        return views
