"""Color for colorization: RGB <-> YCbCr (full-range BT.601, as JPEG uses), and the measures of a
colorized picture: PSNR, SSIM and colorfulness (Hasler & Suesstrunk 2003).

Colorization predicts the two color channels (Cb, Cr) from the lightness channel (Y); the output
keeps the input's Y exactly, so only color can be wrong. Tensors are float [N, C, H, W] in [-1, 1]
(the library's image convention) unless said otherwise.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

# Rows: Y, Cb, Cr from R, G, B (each in [0, 1]; Cb and Cr centred on 0).
_TO_YCC = torch.tensor([[0.299, 0.587, 0.114],
                        [-0.168736, -0.331264, 0.5],
                        [0.5, -0.418688, -0.081312]])
_TO_RGB = torch.linalg.inv(_TO_YCC)


def rgb_to_ycbcr(rgb: torch.Tensor) -> torch.Tensor:
    """[N, 3, H, W] RGB in [-1, 1] -> Y, Cb, Cr each in [-1, 1] (Y: 2*luma-1; Cb/Cr: 2*chroma)."""
    x = (rgb + 1) / 2
    ycc = torch.einsum("ij,njhw->nihw", _TO_YCC.to(x), x)
    return torch.cat([ycc[:, :1] * 2 - 1, ycc[:, 1:] * 2], 1)


def ycbcr_to_rgb(ycc: torch.Tensor) -> torch.Tensor:
    """The inverse of rgb_to_ycbcr; RGB clamped to [-1, 1] (out-of-gamut colors are cut)."""
    y = (ycc[:, :1] + 1) / 2
    x = torch.cat([y, ycc[:, 1:] / 2], 1)
    rgb = torch.einsum("ij,njhw->nihw", _TO_RGB.to(x), x)
    return (rgb * 2 - 1).clamp(-1, 1)


def gray_rgb(y: torch.Tensor) -> torch.Tensor:
    """Y [N, 1, H, W] -> the gray RGB picture [N, 3, H, W] (no color at all)."""
    return y.expand(-1, 3, -1, -1)


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image, for images in [-1, 1] (peak 255 on 8 bits)."""
    mse = ((a - b) / 2).pow(2).flatten(1).mean(1).clamp_min(1e-10)
    return 10 * torch.log10(1 / mse)


def _gauss(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - size // 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Structural similarity per image (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5,
    K1 0.01, K2 0.03), on [0, 1] intensities, averaged over channels and positions."""
    a, b = (a + 1) / 2, (b + 1) / 2
    c = a.shape[1]
    w = _gauss().to(a)[None, None].repeat(c, 1, 1, 1)

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, w, groups=c)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a ** 2
    var_b = blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return s.flatten(1).mean(1)


def colorfulness(rgb: torch.Tensor) -> torch.Tensor:
    """Hasler & Suesstrunk's colorfulness per image (0 for gray; ~30 'moderately colorful' on the
    0..255 scale they use)."""
    x = (rgb + 1) * 127.5
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    rg, yb = (r - g).flatten(1), (0.5 * (r + g) - b).flatten(1)
    std = torch.sqrt(rg.var(1, unbiased=False) + yb.var(1, unbiased=False))
    mean = torch.sqrt(rg.mean(1) ** 2 + yb.mean(1) ** 2)
    return std + 0.3 * mean
