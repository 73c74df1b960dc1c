"""Patch-grid geometry: where each token's patch lies in the input image."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class PatchGrid:
    """A gh × gw grid of ph × pw pixel patches, after `num_prefix` prefix tokens."""

    grid: tuple[int, int]  # gh, gw
    patch_size: tuple[int, int]  # ph, pw
    num_prefix: int

    @property
    def num_patches(self) -> int:
        return self.grid[0] * self.grid[1]

    @property
    def num_tokens(self) -> int:
        return self.num_prefix + self.num_patches

    @property
    def patch_tokens(self) -> slice:
        """Sequence positions of the patch tokens: `seq[..., grid.patch_tokens]` drops the prefix."""
        return slice(self.num_prefix, self.num_tokens)

    def token_indices(self, patches):
        """Sequence indices of patch indices (row-major, 0 … P-1), for int arrays or tensors alike."""
        return patches + self.num_prefix

    def fold(self, values):
        """(..., P) per-patch values in row-major order → (..., gh, gw), for arrays or tensors."""
        return values.reshape(*values.shape[:-1], *self.grid)

    def token_index(self, row: int, col: int) -> int:
        """Sequence index of the patch at (row, col); prefix tokens come first."""
        gh, gw = self.grid
        if not (0 <= row < gh and 0 <= col < gw):
            raise IndexError(f"patch ({row}, {col}) is outside the {gh}×{gw} grid")
        return self.num_prefix + row * gw + col

    def token_position(self, index: int) -> tuple[int, int] | None:
        """(row, col) of a patch token, or None for a prefix token."""
        if not 0 <= index < self.num_prefix + self.num_patches:
            raise IndexError(f"token {index} is outside the sequence")
        if index < self.num_prefix:
            return None
        return divmod(index - self.num_prefix, self.grid[1])

    def patch_at_pixel(self, x: float, y: float) -> tuple[int, int]:
        """(row, col) of the patch containing pixel (x, y) of the model input, clamped to the grid."""
        ph, pw = self.patch_size
        gh, gw = self.grid
        return min(max(int(y // ph), 0), gh - 1), min(max(int(x // pw), 0), gw - 1)

    def boxes(self) -> np.ndarray:
        """Pixel box (x0, y0, x1, y1) of every patch token in sequence order → (P, 4) int."""
        ph, pw = self.patch_size
        rows, cols = patch_coordinates(self.grid)
        return np.stack([cols * pw, rows * ph, (cols + 1) * pw, (rows + 1) * ph], axis=1)

    def pixel_distances(self) -> np.ndarray:
        """Euclidean distance in pixels between the centres of every pair of patches → (P, P)."""
        return _pixel_distances(self.grid, self.patch_size)


def patch_coordinates(grid: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) of every patch of a gh × gw grid in row-major (sequence) order → two (P,) int arrays."""
    gh, gw = grid
    return np.divmod(np.arange(gh * gw), gw)


@lru_cache(maxsize=16)
def _pixel_distances(grid: tuple[int, int], patch_size: tuple[int, int]) -> np.ndarray:
    rows, cols = patch_coordinates(grid)
    y = rows * patch_size[0]
    x = cols * patch_size[1]
    d = np.hypot(y[:, None] - y[None, :], x[:, None] - x[None, :]).astype(np.float32)
    d.setflags(write=False)
    return d
