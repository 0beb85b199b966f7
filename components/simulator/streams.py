"""Seeding blocks: a world's random streams belong to fixed blocks of accounts, never to chunks.

Accounts ``[k * SEEDING_BLOCK, (k + 1) * SEEDING_BLOCK)`` form block k, and each random stream of a block
is ``default_rng([seed, stream, first account of the block])``. A chunk (the unit of memory and of
vectorisation) is a whole number of blocks; a draw for its accounts takes each block's share from that
block's own generator, in block order, and concatenates them. A block's generators therefore see the same
calls whatever chunk it is simulated in, so the world does not depend on the chunk size.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

# The default chunk size before streams were keyed by blocks: a world written at the default chunk size
# is the same to the byte as before (the figures of README.md and docs/SKILL_VS_LUCK.md stay
# reproducible), a default chunk is one block (no per-block overhead), and 2,500 accounts over a year are
# a few hundred MB, so the smallest chunk is still small.
SEEDING_BLOCK = 2500

# The streams of a block, ``[seed, stream, first account of the block]`` (3 and 4 are the world's
# platform-wide missing day and id salts, drawn once per world).
TRADING_STREAM, FAULTS_STREAM, ORDER_STREAM, REGIME_STREAM = 0, 1, 2, 5


def whole_blocks(chunk_size: int) -> int:
    """`chunk_size` rounded up to whole seeding blocks: a chunk cannot split the streams of a block."""
    rounded = math.ceil(chunk_size / SEEDING_BLOCK) * SEEDING_BLOCK
    if rounded != chunk_size:
        logger.info("chunk_size %d rounded up to %d: chunks are whole seeding blocks", chunk_size, rounded)
    return rounded


def block_edges(size: int) -> np.ndarray:
    """Where each seeding block of a chunk of `size` accounts starts (rows of the chunk), then `size`."""
    return np.r_[np.arange(0, size, SEEDING_BLOCK), size]


@dataclass(frozen=True)
class BlockStreams:
    """One stream per seeding block of a chunk; draws per account come from each account's block.

    `random` and `lognormal` take the arguments of ``numpy.random.Generator``'s methods, so the daily
    step accepts a plain generator too (the unit tests do).
    """

    generators: tuple[np.random.Generator, ...]
    edges: np.ndarray  # the chunk row where each block starts, then the chunk's size

    @classmethod
    def of_chunk(cls, seed: int, stream: int, offset: int, size: int) -> BlockStreams:
        """The streams `stream` of the `size` accounts from global index `offset` (a block's first)."""
        if offset % SEEDING_BLOCK:
            raise ValueError(f"a chunk starts at a seeding block, not at account {offset}")
        edges = block_edges(size)
        generators = (np.random.default_rng([seed, stream, offset + int(first)]) for first in edges[:-1])
        return cls(tuple(generators), edges)

    def blocks(self) -> Iterator[tuple[np.random.Generator, int]]:
        """Each block's generator and number of accounts, in order."""
        return zip(self.generators, np.diff(self.edges).tolist(), strict=True)

    def random(self, size: int) -> np.ndarray:
        """One uniform in [0, 1) per account of the chunk (`size` is its number of accounts)."""
        return self._per_account("random", size)

    def lognormal(self, mean: float, sigma: float, size: int) -> np.ndarray:
        """One lognormal draw per account of the chunk (`size` is its number of accounts)."""
        return self._per_account("lognormal", size, mean=mean, sigma=sigma)

    def standard_normal(self, rows: np.ndarray, width: int) -> np.ndarray:
        """`width` standard normals for each of the chunk's accounts `rows` (ascending), a row each."""
        return self._draw("standard_normal", np.diff(np.searchsorted(rows, self.edges)), (width,))

    def _per_account(self, method: str, size: int, **kwargs) -> np.ndarray:
        if size != self.edges[-1]:
            raise ValueError(f"one draw per account of the chunk: {self.edges[-1]} values, not {size}")
        return self._draw(method, np.diff(self.edges), (), **kwargs)

    def _draw(self, method: str, counts: np.ndarray, shape: tuple, **kwargs) -> np.ndarray:
        draws = [
            getattr(rng, method)(size=(int(n), *shape), **kwargs)
            for rng, n in zip(self.generators, counts, strict=True)
        ]
        return draws[0] if len(draws) == 1 else np.concatenate(draws)
