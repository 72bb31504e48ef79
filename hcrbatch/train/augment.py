"""Augmentations shared by the character, GAN and line trainers (a leaf: it imports no trainer)."""

from __future__ import annotations

import cv2
import numpy as np

# Simard, Steinkraus & Platt (2003), "Best practices for CNNs applied to visual document analysis",
# smoothed their fields with sigma 4 px on 28x28 MNIST digits, whose ink box (20 px) is close to ours (24)
ELASTIC_SIGMA = 4.0


def elastic_distort(
    images: np.ndarray, rng: np.random.Generator, alpha: float, sigma: float = ELASTIC_SIGMA
) -> np.ndarray:
    """Simard et al.'s elastic distortion: each pixel of each N x H x W image moves by a smooth random
    field (uniform noise in [-1, 1] blurred by a Gaussian of `sigma` px, times `alpha`), drawn
    independently for x and y; the wobble of a pen that affine warps cannot make.

    Not Keras's RandomElasticTransform: in Keras 3.15 it draws x and y displacements from the same
    seed, so every pixel moves along the diagonal, and ties their size to their smoothness."""
    n, h, w = images.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.empty_like(images)
    for i in range(n):
        dx, dy = (cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma) * alpha for _ in "xy")
        out[i] = cv2.remap(images[i], xs + dx, ys + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return out
