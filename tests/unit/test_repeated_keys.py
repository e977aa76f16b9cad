"""The columnar ingest's duplicate-key search (``columnar.repeated``): the same positions as
polars' ``is_duplicated``, which it replaces because that hash table grew with the file."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from credit_dw.ingest.columnar import repeated


@pytest.mark.parametrize("distinct", [1, 7, 1_000, 2**63])
def test_marks_every_occurrence_of_a_repeated_hash_and_nothing_else(distinct: int) -> None:
    hashes = np.random.default_rng(distinct % 97).integers(0, distinct, 20_000, dtype=np.uint64)
    expected = pl.Series(hashes).is_duplicated().to_numpy()
    assert np.array_equal(repeated(hashes), expected)


def test_edge_sizes() -> None:
    assert repeated(np.array([], dtype=np.uint64)).tolist() == []
    assert repeated(np.array([5], dtype=np.uint64)).tolist() == [False]
    assert repeated(np.array([5, 3, 5, 2**64 - 1, 3], dtype=np.uint64)).tolist() == [True, True, True, False, True]
