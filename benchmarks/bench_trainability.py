"""The trainability map against the notebook's JAX formulation (`trainability.py`), on a
grid small enough for every test run: the same classification away from the boundary."""

import numpy as np
import pytest
from trainability import away_from_boundary, jax_map

from fastgd import trainability as tr


def test_map_matches_the_jax_formulation():
    pytest.importorskip("jax")
    net = tr.notebook_network(width=4, seed=0)
    lr0, lr1 = np.logspace(-1, 6, 16), np.logspace(0.5, 2.5, 16)
    fmap = tr.trainability_map(net, lr={"layer_0": lr0, "layer_1": lr1}, epochs=40)
    jvalues = jax_map(net, lr0, lr1, 40, chunk=100)   # several chunks
    away = away_from_boundary(fmap.values) & away_from_boundary(jvalues)
    assert away.sum() > 100 and fmap.converged.any() and not fmap.converged.all()
    assert np.array_equal(fmap.converged[away], jvalues[away] < 0)
    # Rounding differs (XLA sums in another order) and runs at the edge of stability
    # amplify it: most pixels agree to 1e-9, all to 1e-2.
    assert np.isclose(fmap.values, jvalues, rtol=1e-9, atol=0).mean() >= 0.8
    np.testing.assert_allclose(fmap.values, jvalues, rtol=1e-2)
