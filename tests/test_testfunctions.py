"""Classic test functions: known minima, gradients, convergence from grids of starts."""

import numpy as np
import pytest

import fastgd as fg
from fastgd.testfunctions import MINIMA

P = fg.problems
NAMES = list(MINIMA)


@pytest.mark.parametrize("name", NAMES)
def test_known_minima_are_minima(name):
    problem = getattr(P, name)
    minima = np.array(MINIMA[name])
    assert np.all(np.abs(problem(minima)) < 1e-24)
    assert np.all(np.abs(problem.gradient(minima)) < 1e-11)
    # strictly lower than everything around it
    rng = np.random.default_rng(0)
    for m in minima:
        around = m + rng.normal(scale=1e-3, size=(50, 2))
        assert np.all(problem(around) > problem(m[None])[0])


@pytest.mark.parametrize("name", NAMES)
def test_gradients_check(name):
    problem = getattr(P, name)
    pts = np.random.default_rng(1).uniform(-4, 4, (300, 2))
    assert fg.check_grad(problem, pts).error < 1e-6


@pytest.mark.parametrize(("name", "optimizer", "lr", "epochs", "box", "schedule"), [
    ("rosenbrock", "adam", 0.1, 10000, 1.5, fg.cosine_decay(decay_epochs=10000)),
    ("rosenbrock", "nesterov", 2e-4, 20000, 1.5, None),
    ("rosenbrock", "momentum_torch", 5e-4, 20000, 1.5, None),
    ("booth", "gd", 0.05, 1000, 8.0, None),
    ("beale", "adam", 0.05, 8000, 1.0, fg.cosine_decay(decay_epochs=8000)),
    ("beale", "rmsprop", 0.01, 8000, 1.0, fg.cosine_decay(decay_epochs=8000)),
    ("himmelblau", "gd", 0.005, 2000, 5.0, None),
    ("rastrigin", "gd", 0.002, 1000, 0.4, None),
    ("three_hump_camel", "momentum", 0.01, 3000, 0.5, None),
])
def test_converges_to_a_known_minimum_from_a_grid(name, optimizer, lr, epochs, box, schedule):
    # An 8 x 8 grid of starts in a box around the origin (Beale's: around (3, 0.5)).
    problem = getattr(P, name)
    g = np.linspace(-box, box, 8)
    gx, gy = np.meshgrid(g + (3.0 if name == "beale" else 0.0),
                         g + (0.5 if name == "beale" else 0.0))
    starts = np.stack([gx, gy], axis=-1).reshape(-1, 2)
    res = fg.minimize(problem, starts, lr=lr, epochs=epochs, optimizer=optimizer,
                      schedule=schedule)
    minima = np.array(MINIMA[name])
    dist = np.abs(res.x[:, None, :] - minima[None]).max(axis=-1).min(axis=1)
    assert np.all(dist < 1e-4), (starts[dist >= 1e-4], res.x[dist >= 1e-4])
    if name == "himmelblau":   # a grid this wide finds all four
        nearest = np.abs(res.x[:, None, :] - minima[None]).max(axis=-1).argmin(axis=1)
        assert set(nearest.tolist()) == {0, 1, 2, 3}


@pytest.mark.parametrize("seed", [None, 3])
def test_quadratic_factory(seed):
    q = P.quadratic(6, condition=50.0, seed=seed)
    assert q.dim == 6 and "cond50" in q.name
    eig = np.linalg.eigvalsh(q.matrix)
    np.testing.assert_allclose(eig.max() / eig.min(), 50.0, rtol=1e-12)
    np.testing.assert_allclose(np.sort(eig), q.eigenvalues, rtol=1e-12)
    x = np.random.default_rng(2).uniform(-1, 1, (40, 6))
    np.testing.assert_allclose(q(x), 0.5 * np.einsum("ni,ij,nj->n", x, q.matrix, x),
                               rtol=1e-13)
    np.testing.assert_allclose(q.gradient(x), x @ q.matrix.T, rtol=1e-13, atol=1e-15)
    res = fg.minimize(q, x, lr=2 / 51, epochs=2000)
    assert np.abs(res.x).max() < 1e-10
    # GD diverges beyond 2 / lambda_max
    res = fg.minimize(q, x[:4], lr=2.5 / 50, epochs=2000)
    assert np.all(res.status == fg.Status.DIVERGED)


def test_quadratic_factory_validates():
    with pytest.raises(ValueError, match="dim"):
        P.quadratic(0)
    with pytest.raises(ValueError, match="condition"):
        P.quadratic(3, condition=0.5)


def test_registered_in_problems_namespace():
    for name in NAMES + ["quadratic"]:
        assert name in P.__all__
        assert getattr(P, name) is not None
