"""Exact and near-duplicate problem removal: normalised-text hashes, then MinHash over word
3-gram shingles with LSH banding; candidate pairs are confirmed by true Jaccard similarity.

    python -c "from reasonflux.synth.dedup import dedup; print(dedup([{'problem':'a b'},{'problem':'A  b'}])[1])"
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from reasonflux.synth.text import ngrams, normalize, tokens

SHINGLE = 3
NUM_PERM = 128
BANDS = 32  # 32 bands x 4 rows: pairs above ~0.6 Jaccard almost always become candidates
NEAR_THRESHOLD = 0.7
_PRIME = (1 << 31) - 1  # products of two values below 2^31 fit in uint64


@dataclass
class Duplicate:
    row: int
    kept_row: int
    kind: str  # "exact" or "near"
    similarity: float


def _hash64(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little") % _PRIME


class MinHasher:
    def __init__(self, num_perm: int = NUM_PERM, seed: int = 1):
        rng = np.random.default_rng(seed)
        self.a = rng.integers(1, _PRIME, size=(num_perm, 1), dtype=np.uint64)
        self.b = rng.integers(0, _PRIME, size=(num_perm, 1), dtype=np.uint64)

    def signature(self, shingles: set[str]) -> tuple[int, ...]:
        if not shingles:
            return tuple([0] * len(self.a))
        hs = np.fromiter((_hash64(s) for s in shingles), dtype=np.uint64, count=len(shingles))[None, :]
        return tuple(((self.a * hs + self.b) % _PRIME).min(axis=1).tolist())


def _shingles(text: str) -> set[str]:
    return {" ".join(g) for g in ngrams(tokens(text), SHINGLE)}


def dedup(rows: list[dict], text_key: str = "problem", threshold: float = NEAR_THRESHOLD) -> tuple[list[dict], list[Duplicate]]:
    """Keep the first of each group of exact or near-duplicate problems."""
    kept: list[dict] = []
    dups: list[Duplicate] = []
    seen_exact: dict[str, int] = {}
    hasher = MinHasher()
    rows_per_band = NUM_PERM // BANDS
    buckets: dict[tuple[int, tuple[int, ...]], list[int]] = {}
    shingle_cache: dict[int, set[str]] = {}
    for i, row in enumerate(rows):
        text = str(row.get(text_key, ""))
        key = normalize(text)
        if key in seen_exact:
            dups.append(Duplicate(i, seen_exact[key], "exact", 1.0))
            continue
        sh = _shingles(text)
        sig = hasher.signature(sh)
        cands: set[int] = set()
        for b in range(BANDS):
            cands.update(buckets.get((b, sig[b * rows_per_band : (b + 1) * rows_per_band]), ()))
        best = None
        for j in cands:
            other = shingle_cache[j]
            jac = len(sh & other) / max(1, len(sh | other))
            if jac >= threshold and (best is None or jac > best[1]):
                best = (j, jac)
        if best is not None:
            dups.append(Duplicate(i, best[0], "near", round(best[1], 4)))
            continue
        seen_exact[key] = i
        shingle_cache[i] = sh
        for b in range(BANDS):
            buckets.setdefault((b, sig[b * rows_per_band : (b + 1) * rows_per_band]), []).append(i)
        kept.append(row)
    return kept, dups
