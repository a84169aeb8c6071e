"""Scoring working-set rows against a query vector (memory layer, the search kernel).

float32 rows use numpy's BLAS matrix-vector product, which is bound by memory bandwidth.
float16 rows halve the bytes read, but numpy has no fast float16 product; torch does, so
the float16 path scores with torch (imported on first use) and then rescores, in float32,
every row that could belong to the top ``limit`` given the float16 rounding. The answer is
the exact float32 ranking of the stored (float16) vectors, not an approximation.

On this 2-core AVX2 machine, 100k x 384: numpy float32 8.5-11 ms, torch float16 5.6 ms
(two threads) per query.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Above this share of all rows, scoring the whole matrix and picking rows afterwards is
# cheaper than gathering the rows into a copy first.
FULL_SCAN_SHARE = 0.5
_GATHER_BLOCK = 1024
# Bound on |float16 product - float32 product| per unit of query norm: the query's own
# float16 rounding (2^-11 relative) plus the rounding of a result in [-1, 1] (2^-11); the
# largest error measured over 100k random unit rows was 1.5e-4.
_FLOAT16_ERROR = 2.0**-9

# Below this many rows the float16 path widens blocks with numpy instead: torch's threads
# would only contend with the embedder's for a scan that takes a millisecond anyway (the
# neighbour search of every written memory runs here).
TORCH_MIN_ROWS = 8192

_torch: Any = None


def _torch_module() -> Any:
    global _torch
    if _torch is None:
        try:
            import torch
        except ImportError:  # pragma: no cover - torch is a dependency of echoray
            _torch = False
        else:
            _torch = torch
    return _torch or None


def load_kernel(dtype: np.dtype[Any]) -> None:
    """Import what scoring ``dtype`` rows needs (torch for float16: seconds, once)."""
    if dtype == np.float16:
        _torch_module()


def exact_scores(matrix: np.ndarray, size: int, rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """float32 scores of ``rows`` (indices into ``matrix[:size]``) against ``vector``."""
    if matrix.dtype == np.float32 and len(rows) == size:
        return matrix[:size] @ vector  # the rows are all rows, in order
    if matrix.dtype == np.float32 and len(rows) > FULL_SCAN_SHARE * size:
        return (matrix[:size] @ vector)[rows]
    # Gather a cache-sized block of rows at a time: one large gathered copy is slower
    # (measured twice as slow at 10k of 100k rows); float16 rows are widened per block.
    out = np.empty(len(rows), dtype=np.float32)
    for start in range(0, len(rows), _GATHER_BLOCK):
        block = matrix[rows[start : start + _GATHER_BLOCK]]
        out[start : start + len(block)] = block.astype(np.float32, copy=False) @ vector
    return out


def candidate_scores(
    matrix: np.ndarray, size: int, rows: np.ndarray, vector: np.ndarray, limit: int
) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Positions into ``rows`` that may rank in the top ``limit``, with exact scores, and
    the mean and standard deviation of all the rows' scores.

    float32 matrices (or no torch) score every row exactly. float16 matrices are scored
    by torch, then only rows within the float16 error of the ``limit``-th score are
    rescored exactly, so picking the top ``limit`` from the result is exact (the moments
    are then those of the float16 scores, off by at most the rounding).
    """
    torch = _torch_module() if matrix.dtype == np.float16 else None
    if torch is None or len(rows) <= max(limit, TORCH_MIN_ROWS):
        scores = exact_scores(matrix, size, rows, vector)
        return np.arange(len(rows)), scores, _moments(scores)
    query = torch.from_numpy(vector.astype(np.float16))
    if len(rows) > FULL_SCAN_SHARE * size:
        rough = (torch.from_numpy(matrix[:size]) @ query).float().numpy()
        if len(rows) != size:
            rough = rough[rows]
    else:
        rough = (torch.from_numpy(matrix[rows]) @ query).float().numpy()
    kth = np.partition(rough, len(rough) - limit)[len(rough) - limit]
    margin = 2 * _FLOAT16_ERROR * max(1.0, float(np.linalg.norm(vector)))
    positions = np.flatnonzero(rough >= kth - margin)
    return positions, exact_scores(matrix, size, rows[positions], vector), _moments(rough)


def _moments(scores: np.ndarray) -> tuple[float, float]:
    if len(scores) == 0:
        return 0.0, 0.0
    return float(scores.mean(dtype=np.float64)), float(scores.std(dtype=np.float64))
