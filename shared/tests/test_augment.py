"""Batched augmentations: geometry, colour operations against per-image references, and input checks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from paperzoo.core.augment import (
    ContrastiveAugment,
    color_jitter,
    gaussian_blur,
    resized_crop,
    sample_crop_boxes,
    to_grayscale,
)


def test_crop_boxes_fit_inside_image_and_scale_range():
    boxes = sample_crop_boxes(2000, 32, 24, scale=(0.2, 0.6), generator=torch.Generator().manual_seed(0))
    top, left, height, width = boxes.unbind(1)
    assert (top >= 0).all()
    assert (left >= 0).all()
    assert (top + height <= 32).all()
    assert (left + width <= 24).all()
    share = height * width / (32 * 24)
    assert share.min() >= 0.15  # rounding of the sides moves the share a little
    assert share.max() <= 0.7


def test_crop_boxes_fall_back_to_center_when_nothing_fits():
    # A 4:1 image with ratios near 1 and the whole area: no draw fits, so the central clamped crop is used.
    boxes = sample_crop_boxes(3, 10, 40, scale=(1.0, 1.0), ratio=(1.0, 1.0), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(boxes, torch.tensor([[0.0, 15.0, 10.0, 10.0]] * 3))


def test_full_crop_without_flip_is_identity():
    images = torch.rand(2, 3, 8, 8)
    boxes = torch.tensor([[0.0, 0.0, 8.0, 8.0]] * 2)
    torch.testing.assert_close(resized_crop(images, boxes, 8), images)


def test_flip_mirrors_columns():
    images = torch.rand(2, 1, 5, 6)
    boxes = torch.tensor([[0.0, 0.0, 5.0, 6.0]] * 2)
    flipped = resized_crop(images, boxes, (5, 6), flip=torch.tensor([True, False]))
    torch.testing.assert_close(flipped[0], images[0].flip(-1))
    torch.testing.assert_close(flipped[1], images[1])


def test_crop_of_quadrant_at_native_size_is_slice():
    images = torch.rand(1, 3, 8, 8)
    boxes = torch.tensor([[4.0, 0.0, 4.0, 4.0]])
    torch.testing.assert_close(resized_crop(images, boxes, 4), images[:, :, 4:, :4])


def _jitter_one(images, order, factors):
    """Per-image reference with no clamping between steps and the same YIQ hue rotation."""
    from paperzoo.core.augment import _hue_matrices

    out = []
    for index, image in enumerate(images):
        for operation in order[index].tolist():
            factor = factors[operation][index]
            grey = to_grayscale(image[None])[0]
            if operation == 0:
                image = image * factor
            elif operation == 1:
                image = factor * image + (1 - factor) * grey.mean()
            elif operation == 2:
                image = factor * image + (1 - factor) * grey
            else:
                matrix = _hue_matrices(factor.view(1))[0]
                image = torch.einsum("ij,jhw->ihw", matrix, image)
        out.append(image.clamp(0, 1))
    return torch.stack(out)


def test_color_jitter_matches_per_image_reference():
    images = torch.rand(6, 3, 5, 5) * 0.5 + 0.25
    seed = 3
    got = color_jitter(images, 0.4, 0.4, 0.4, 0.1, generator=torch.Generator().manual_seed(seed))
    # Redraw the same factors and order as color_jitter does.
    generator = torch.Generator().manual_seed(seed)
    factors = [torch.rand(6, generator=generator) * 0.8 + 0.6 for _ in range(3)]
    factors.append(torch.rand(6, generator=generator) * 0.2 - 0.1)
    order = torch.argsort(torch.rand(6, 4, generator=generator), dim=1)
    torch.testing.assert_close(got, _jitter_one(images, order, factors), rtol=1e-5, atol=1e-5)


def test_color_jitter_zero_ranges_is_identity():
    images = torch.rand(4, 3, 6, 6)
    torch.testing.assert_close(color_jitter(images, 0.0, 0.0, 0.0, 0.0), images, rtol=1e-6, atol=1e-6)


def test_hue_rotation_keeps_grey_pixels():
    images = torch.rand(3, 1, 4, 4).expand(-1, 3, -1, -1).contiguous()
    rotated = color_jitter(images, 0.0, 0.0, 0.0, 0.5, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(rotated, images, rtol=1e-5, atol=1e-5)


def test_color_jitter_on_grey_images_changes_brightness_only():
    images = torch.full((2, 1, 3, 3), 0.5)
    jittered = color_jitter(images, 0.5, 0.0, 0.9, 0.5, generator=torch.Generator().manual_seed(1))
    assert jittered.shape == images.shape
    assert not torch.allclose(jittered, images)
    assert torch.allclose(jittered, jittered[:, :, :1, :1].expand_as(jittered))  # still flat: no spatial change


def test_gaussian_blur_matches_conv2d_reference():
    images = torch.rand(3, 3, 12, 12)
    sigma = torch.tensor([0.5, 1.0, 2.0])
    got = gaussian_blur(images, sigma, 5)
    for index in range(3):
        offsets = torch.arange(-2, 3, dtype=torch.float32)
        kernel = torch.exp(-(offsets**2) / (2 * sigma[index] ** 2))
        kernel = kernel / kernel.sum()
        kernel2d = (kernel[:, None] * kernel[None, :]).expand(3, 1, 5, 5)
        padded = F.pad(images[index : index + 1], (2, 2, 2, 2), mode="reflect")
        expected = F.conv2d(padded, kernel2d, groups=3)
        torch.testing.assert_close(got[index : index + 1], expected, rtol=1e-5, atol=1e-6)


def test_gaussian_blur_keeps_constant_image():
    images = torch.full((2, 1, 4, 4), 0.3)
    torch.testing.assert_close(gaussian_blur(images, torch.tensor([1.0, 3.0]), 9), images)


def test_contrastive_augment_shapes_range_and_determinism():
    augment = ContrastiveAugment(size=24, strength=1.0, blur_prob=0.5)
    images = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    first = augment(images, torch.Generator().manual_seed(5))
    second = augment(images, torch.Generator().manual_seed(5))
    other = augment(images, torch.Generator().manual_seed(6))
    assert first.shape == (16, 3, 24, 24)
    assert first.dtype == torch.float32
    assert first.min() >= 0.0
    assert first.max() <= 1.0
    torch.testing.assert_close(first, second)
    assert not torch.allclose(first, other)


def test_contrastive_augment_normalises_grey_images():
    augment = ContrastiveAugment(size=28, mean=(0.5,), std=(0.25,))
    views = augment(torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8), torch.Generator().manual_seed(0))
    assert views.shape == (4, 1, 28, 28)
    assert views.min() >= -2.0
    assert views.max() <= 2.0


def test_contrastive_augment_rejects_images_smaller_than_crop():
    augment = ContrastiveAugment(size=32)
    with pytest.raises(ValueError, match="smaller than the crop size 32"):
        augment(torch.zeros(2, 3, 28, 28))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"size": 0}, "size"), ({"size": 8, "gray_prob": 1.5}, "gray_prob"), ({"size": 8, "strength": -1}, "strength")],
)
def test_contrastive_augment_rejects_invalid_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ContrastiveAugment(**kwargs)


def test_augment_rejects_wrong_layout():
    with pytest.raises(ValueError, match="expected images of shape"):
        ContrastiveAugment(size=4)(torch.zeros(2, 4, 4, 3))
