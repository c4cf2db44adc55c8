import numpy as np
import pytest

import fastgd as fg

#: Relative tolerance promised between the kernels and fastgd.reference.
RTOL = 1e-9


@pytest.fixture(scope="session")
def seed_data():
    """Data like the tutorial's curve-fit example: 100 points, a=1.2, b=3.4, c=5.6."""
    return fg.problems.exp_linear_data(100, seed=0)


def assert_path_close(actual, expected, rtol=RTOL):
    actual = np.asarray(actual, dtype=float)
    expected = np.asarray(expected, dtype=float).reshape(actual.shape)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=0)


# The golden files' generator needs PyTorch, which CI does not install; it is run by
# hand (see its docstring), never collected (--doctest-modules would import it).
collect_ignore = ["golden/make_golden.py"]


def subprocess_env(**extra):
    """Environment for a `python -m fastgd` / `python -c` subprocess that imports the
    same fastgd as this test process, whatever its working directory."""
    import os
    from pathlib import Path
    root = str(Path(fg.__file__).parents[1])
    path = os.environ.get("PYTHONPATH")
    return dict(os.environ, MPLBACKEND="Agg",
                PYTHONPATH=root if not path else root + os.pathsep + path, **extra)


def interruptible():
    """``preexec_fn`` for a subprocess that must see Ctrl-C as a terminal user's does.

    A process started in the background by a non-interactive shell (as CI or a
    test runner may be) inherits SIGINT *ignored*, and Python then installs no
    KeyboardInterrupt handler; restoring the default lets it install its own.
    """
    import signal
    signal.signal(signal.SIGINT, signal.SIG_DFL)
