"""Per-run summaries computed in the kernel, checked against recorded trajectories
and a plain loop over them."""

import numpy as np
import pytest

import fastgd as fg


def _from_path(fs, epochs, target):
    """The summaries of one run from its whole trajectory of values, written out."""
    fs = np.asarray(fs)
    n = np.sum(~np.isnan(fs)) - 1 if np.isnan(fs[-1]) else fs.size - 1  # epochs run
    fs = fs[:n + 1]
    finite = np.isfinite(fs)
    best = int(np.nanargmin(np.where(np.isnan(fs), np.inf, fs)))
    last = int(np.flatnonzero(finite)[-1]) if finite.any() else -1
    hits = np.flatnonzero(fs <= target)
    ratios = []
    for e in range(epochs):          # the losses before each update
        r = fs[e] / fs[0] if e <= n else np.inf
        ratios.append(r if r <= 1e6 else 1e6)
    ratios = np.array(ratios)
    return {"fun_best": fs[best], "epoch_best": best,
            "fun_last_finite": fs[last] if last >= 0 else np.nan, "epoch_last_finite": last,
            "hit_epoch": int(hits[0]) if hits.size else -1,
            "loss_ratio_sum": ratios.sum(), "loss_ratio_tail": ratios[-20:].sum(),
            "loss_ratio_inv_sum": (1.0 / ratios).sum()}


@pytest.mark.parametrize("optimizer", ["gd", "momentum"])
def test_summaries_match_the_recorded_paths(optimizer):
    x0 = np.linspace(-3, 3, 13)
    lr = np.array([0.001, 0.03, 0.2])[:, None]   # slow, converging, diverging
    kw = dict(x0=x0, lr=lr, epochs=60, optimizer=optimizer, bound=1e6)
    res = fg.minimize(fg.problems.quartic, target=1.0, record=True, **kw)
    for flat in range(res.size):
        _, fs = res.path(np.unravel_index(flat, res.shape))
        want = _from_path(fs, 60, 1.0)
        for name, value in want.items():
            got = res.summary[name].reshape(-1)[flat]
            np.testing.assert_allclose(got, value, rtol=1e-12, err_msg=f"{name} run {flat}")
    assert {"DIVERGED", "MAX_EPOCHS"} <= {fg.Status(s).name for s in res.status.ravel()}
    # The summaries do not change the runs themselves, bit for bit.
    plain = fg.minimize(fg.problems.quartic, **kw)
    np.testing.assert_array_equal(plain.x, res.x)
    np.testing.assert_array_equal(plain.nit, res.nit)


def test_summary_without_target_and_in_chunks():
    kw = dict(x0=np.linspace(-2, 2, 300), lr=0.01, epochs=40, summary=True)
    whole = fg.minimize(fg.problems.exp_quadratic, **kw)
    parts = fg.minimize(fg.problems.exp_quadratic, chunk_size=77, **kw)
    assert "hit_epoch" not in whole.summary
    for name, value in whole.summary.items():
        np.testing.assert_array_equal(value, parts.summary[name])
    # e^x + x^2 decreases monotonically at this rate: the best is the last epoch.
    assert np.all(whole.summary["epoch_best"] == 40)


def test_target_is_validated():
    with pytest.raises(ValueError, match="target"):
        fg.minimize(fg.problems.quartic, x0=1.0, lr=0.01, epochs=3, target=np.nan)
    with pytest.raises(TypeError, match="summary"):
        fg.minimize(fg.problems.quartic, x0=1.0, lr=0.01, epochs=3, summary="yes")


def test_summaries_are_saved_and_framed(tmp_path):
    res = fg.minimize(fg.problems.quartic, x0=[1.0, -2.0, 3.0], lr=0.01, epochs=20,
                      target=2.0)
    res.save(tmp_path / "r.npz")
    back = fg.load(tmp_path / "r.npz")
    assert set(back.summary) == set(res.summary)
    for name, value in res.summary.items():
        np.testing.assert_array_equal(back.summary[name], value)
    pd = pytest.importorskip("pandas")
    df = res.to_pandas()
    assert isinstance(df, pd.DataFrame)
    np.testing.assert_array_equal(df["hit_epoch"], res.summary["hit_epoch"])
