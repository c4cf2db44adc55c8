"""Objectives: what the kernels minimise, and how a user's functions get there."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import numba
import numpy as np
from numba.extending import is_jitted
from numpy.typing import ArrayLike

from . import _codegen, _probe
from . import _validate as check
from ._config import FUN_SIG, GRAD_SIG, jit

_NO_DATA = np.empty((0, 0))


def _require_jitted(func, name):
    if not is_jitted(func):
        raise TypeError(
            f"{name} must be a Numba-jitted function: decorate it with @numba.njit "
            f"(got {func!r})")


def as_points(problem, x, name):
    """Validated points as ``(flat, batch_shape)``: ``flat`` a C-contiguous
    (runs, dim) float64 copy, writeable as the kernels' signatures require
    (a read-only view, np.asarray of a JAX array or a broadcast, is not).

    For a 1-D problem every element of ``x`` is a point; otherwise the last
    axis has length ``dim``.  Errors name the argument ``name``.
    """
    x = check.real_array(x, name)
    if problem.dim == 1:
        x = x[..., None]
    elif x.ndim == 0 or x.shape[-1] != problem.dim:
        raise ValueError(
            f"{name} must have shape (..., {problem.dim}) for the {problem.dim}-D problem "
            f"{problem.name!r}, got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite (it contains NaN or inf)")
    return np.array(x.reshape(-1, problem.dim), order="C"), x.shape[:-1]


class Problem:
    """An objective ``f`` and its gradient, for the kernels to minimise.

    Parameters
    ----------
    f : numba.njit function
        ``f(x) -> float`` with ``x`` a float64 array of shape ``(dim,)``.
    grad : numba.njit function
        ``grad(x, out)`` writes the gradient of ``f`` at ``x`` into ``out``
        (shape ``(dim,)``) and returns nothing: no allocation per call.
    dim : int
        Number of variables.
    name : str, optional
        Used in reprs, plots and saved results; defaults to ``f.__name__``.
    batched : bool, default False
        If True, ``f(X, F)`` and ``grad(X, G)`` take a block of points at once:
        ``X`` and ``G`` have shape ``(dim, lanes)`` and ``F`` shape ``(lanes,)``.
        Loops over the lanes in the innermost position then vectorise: the
        fastest way to give fastgd an objective.
    checked : bool, default True
        Compile ``f`` and ``grad`` for the kernels once more with bounds
        checking: an index out of range raises, and that run ends with status
        FAILED, instead of reading or writing outside an array (a crash, or
        another run's numbers).  It costs a compile and a few percent of speed
        (README, "What fastgd guarantees"); False calls them as compiled.
    groups : dict or sequence of (name, size), optional
        Parameter groups in order (a network's layers, say), sizes adding up to
        ``dim``: `minimize` and `sweep` then take ``lr`` as a dict with a rate
        per group, ``lr={"w": 0.1, "b": [0.01, 0.1]}``, each broadcasting and
        sweeping like ``lr`` (dims ``lr_w``, ``lr_b``); the schedule applies
        to each group's rate.  A plain ``lr`` still serves all groups.

    Notes
    -----
    Before a kernel runs, the functions are probed from Python, in a forked
    child process, at several of the start points (`fastgd._probe`): every
    output entry must be written, nothing outside it, the input must not
    change, and ``grad`` must agree with central finite differences of ``f``
    (relative error below 1e-3); batched functions are also run on 64, 37 and
    1 lanes, forwards and reversed.  A failed probe, or a function that
    crashes the child, raises `ValueError` naming the function and the point,
    instead of a wrong answer or a crash inside the kernel.

    Examples
    --------
    >>> import numba, fastgd as fg
    >>> @numba.njit
    ... def f(x):
    ...     return (x[0] - 1.0) ** 2 + 10.0 * x[1] ** 2
    >>> @numba.njit
    ... def grad(x, out):
    ...     out[0] = 2.0 * (x[0] - 1.0)
    ...     out[1] = 20.0 * x[1]
    >>> bowl = fg.Problem(f, grad, dim=2, name="bowl")
    >>> res = fg.minimize(bowl, x0=[3.0, 1.0], lr=0.04, epochs=200)
    >>> res.x.round(6).tolist()
    [1.0, 0.0]
    """

    def __init__(self, f: Callable, grad: Callable, dim: int, *, name: str | None = None,
                 batched: bool = False, groups: Sequence | None = None,
                 checked: bool = True) -> None:
        _require_jitted(f, "f")
        _require_jitted(grad, "grad")
        self.f = f
        self.grad = grad
        self.checked = bool(checked)
        self.dim = check.integer(dim, "dim", low=1)
        self.groups = as_groups(groups, self.dim)
        self.name = str(name) if name is not None else f.__name__
        self.batched = bool(batched)
        self._data = _NO_DATA
        self._source = None   # a built-in's or a formula's source (_codegen.ProblemSource)
        self._builtin = None  # (kernel fun, kernel grad) of a built-in problem
        self._adapted = None
        self._factory = None  # (callable, args) rebuilding a built-in when unpickled

    @classmethod
    def _from_kernels(cls, kfun, kgrad, dim, name, data=_NO_DATA):
        self = cls.__new__(cls)
        self.f, self.grad = kfun, kgrad
        self.dim, self.name, self.batched = dim, name, True
        self.groups = None
        self._data = data
        self._source = None
        self._builtin = self._adapted = (kfun, kgrad)
        self._factory = None
        return self

    @classmethod
    def _from_source(cls, source, data=_NO_DATA):
        """A built-in or formula problem: its functions exist as source, so the
        kernels fuse its gradient with the update (`fastgd._codegen`)."""
        self = cls.__new__(cls)
        self.f = self.grad = None
        self.dim, self.name, self.batched = source.dim, source.name, True
        self.groups = as_groups(source.groups, source.dim)
        self._data = data
        self._source = source
        self._builtin = True
        self._adapted = None
        self._factory = None
        return self

    @classmethod
    def from_expression(cls, expression: Any, variables: str | Sequence | None = None, *,
                        name: str | None = None) -> Problem:
        """An objective written as a formula; its gradient derived by SymPy.

        The formula and its gradient become batched kernels (generated source,
        compiled once per problem, a fraction of a second) that run as fast as
        the built-in problems; the text is evaluated with the operations in the
        order written, so ``"exp(x + y) + x**2 - y**2"`` gives
        `fastgd.problems.saddle`'s values bit for bit.  Needs SymPy.

        Parameters
        ----------
        expression : str or sympy.Expr
            Numbers, the variables, ``+ - * / **``, the constant ``pi`` and the
            functions exp, log, sqrt, sin, cos, tan, sinh, cosh, tanh, asin,
            acos, atan, abs, sign.
        variables : str or sequence, optional
            The variables in order (``"x y"``, ``["x", "y"]`` or SymPy
            symbols); by default the names in the expression, sorted.
        name : str, optional
            Defaults to the expression's text.

        Returns
        -------
        Problem
            With ``variables`` (tuple of names) and ``source`` (the generated
            code) as extra attributes.

        Raises
        ------
        ImportError
            If SymPy is not installed.
        ValueError
            For names that are neither variables nor known functions, and for
            anything else the formula may not contain.

        Examples
        --------
        >>> import fastgd as fg
        >>> saddle = fg.Problem.from_expression("exp(x + y) + x**2 - y**2")
        >>> saddle.variables, saddle.dim
        (('x', 'y'), 2)
        >>> saddle.gradient([0.0, 0.0]).tolist()
        [1.0, 1.0]
        """
        from .expression import analytic, rebuild
        built = analytic(expression, variables, name=name)
        self = Problem._from_source(built.problem_source)
        self.variables, self.source = tuple(built.variables), built.source
        self._factory = (rebuild, ("analytic", expression, variables, name))
        return self

    def __reduce__(self):
        # Pickled to reach process pools and Dask workers: a built-in by the call
        # that made it, a user's problem by its jitted functions (which Numba
        # pickles); compiled adapters are rebuilt, or loaded from cache, there.
        if self._factory is not None:
            return self._factory
        token = self.__dict__.setdefault("_token", uuid.uuid4().hex)
        state = {k: v for k, v in self.__dict__.items() if k != "_adapted"}
        return _restore, (type(self), state, token)

    def __repr__(self):
        extra = f", n_data={self.n_data}" if self.n_data else ""
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim}{extra})"

    @property
    def n_data(self):
        """Number of data points (0 for an objective without data)."""
        return self._data.shape[1]

    @property
    def x(self):
        """The data's x values (read-only), or None for an objective without data."""
        return self._data_row(0)

    @property
    def y(self):
        """The data's y values (read-only), or None for an objective without data."""
        return self._data_row(1)

    def _group_index(self):
        """The parameter group of each coordinate, int64 (dim,): 0 without groups."""
        if self.groups is None:
            return np.zeros(self.dim, np.int64)
        return np.repeat(np.arange(len(self.groups)), [n for _, n in self.groups])

    def _data_row(self, i):
        if not self.n_data:
            return None
        row = self._data[i].view()
        row.flags.writeable = False
        return row

    def _kernel_functions(self, real="float64"):
        # The adapters are compiled on first use, once per process for the same
        # functions: a problem rebuilt from them in a loop compiles nothing new.
        if real != "float64":   # generated problems only (fastgd._api checks)
            return _codegen.problem_functions(self._source, real)
        if self._adapted is None and self._source is not None:
            self._adapted = _codegen.problem_functions(self._source)
        if self._adapted is None:
            key = self._adapter_key()
            if key not in _ADAPTERS:
                _ADAPTERS[key] = self._adapt()
            self._adapted = _ADAPTERS[key]
        return self._adapted

    def _adapter_key(self):
        return (Problem, self.f, self.grad, self.dim, self.batched,
                getattr(self, "checked", True))

    def _user_functions(self):
        """The user's functions as the kernels call them: bounds-checked unless
        the problem was made with ``checked=False``."""
        funcs = (self.f, self.grad)
        return tuple(map(_bounds_checked, funcs)) if getattr(self, "checked", True) else funcs

    def _adapt(self):
        # An exception raised by the user's function becomes the lane's `fail`
        # flag (the run's status FAILED), never an exception in the kernel.
        (f, grad), dim = self._user_functions(), self.dim
        if self.batched:
            @jit(FUN_SIG, cache=False)
            def kfun(X, data, rows, F, fail):
                try:
                    f(X, F)
                except Exception:  # noqa: BLE001 - every lane of the block failed
                    fail[:] = 1

            @jit(GRAD_SIG, cache=False)
            def kgrad(X, data, rows, G, fail):
                try:
                    grad(X, G)
                except Exception:  # noqa: BLE001
                    fail[:] = 1
            return kfun, kgrad

        @jit(FUN_SIG, cache=False)
        def kfun(X, data, rows, F, fail):
            x = np.empty(dim)
            for c in range(X.shape[1]):
                for d in range(dim):
                    x[d] = X[d, c]
                try:
                    F[c] = f(x)
                except Exception:  # noqa: BLE001
                    fail[c] = 1

        @jit(GRAD_SIG, cache=False)
        def kgrad(X, data, rows, G, fail):
            x = np.empty(dim)
            g = np.empty(dim)
            for c in range(X.shape[1]):
                for d in range(dim):
                    x[d] = X[d, c]
                try:
                    grad(x, g)
                except Exception:  # noqa: BLE001
                    fail[c] = 1
                for d in range(dim):
                    G[d, c] = g[d]
        return kfun, kgrad

    def _probe(self, points):
        """Check the user's functions at some of ``points`` ((n, dim) or (dim,))
        before a kernel runs (`fastgd._probe`); raise ValueError.

        Built-in and generated problems are trusted and not probed; a set of
        probe points already passed is not probed again.
        """
        if self._builtin is not None:
            return
        chosen = _probe.probe_points(np.asarray(points, dtype=np.float64).reshape(-1, self.dim))
        key = b"".join(p.tobytes() for p in chosen)
        passed = self.__dict__.setdefault("_probed", set())
        if key not in passed:
            self._precompile()
            _probe.run(lambda note: self._probe_user(note, chosen), self.name)
            passed.add(key)

    def _precompile(self):
        _check_arity(self.f, "f", self.name, self.batched)
        _check_arity(self.grad, "grad", self.name, self.batched)
        kinds = (("X", "x"), ("X", "X")) if self.batched else (("x",), ("x", "x"))
        _probe.precompile(self.f, *kinds[0])
        _probe.precompile(self.grad, *kinds[1])

    def _probe_user(self, note, points):
        if self.batched:
            _probe.check_batched(note, self.f, self.grad, points, self.name)
        else:
            _probe.check_pointwise(note, self.f, self.grad, points, self.name)

    def __call__(self, x):
        """Objective values at points ``x`` (shape ``(..., dim)``), computed in parallel.

        Examples
        --------
        >>> import fastgd as fg
        >>> float(fg.problems.quartic(2.0))
        10.0
        """
        pts, shape = as_points(self, x, "x")
        out = np.empty(pts.shape[0])
        self._probe(pts)
        kfun, _ = self._kernel_functions()
        _codegen.evaluate(kfun, pts, self._data, out)
        return out.reshape(shape)

    def gradient(self, x):
        """Gradients at points ``x``, shape ``(..., dim)``.

        Examples
        --------
        >>> import fastgd as fg
        >>> fg.problems.saddle.gradient([0.0, 0.0]).tolist()
        [1.0, 1.0]
        """
        pts, shape = as_points(self, x, "x")
        out = np.empty_like(pts)
        self._probe(pts)
        _, kgrad = self._kernel_functions()
        _codegen.gradient(kgrad, pts, self._data, out)
        return out.reshape(shape + (self.dim,))


_ADAPTERS = {}  # (kind, functions..., dim) -> compiled kernel functions
_CHECKED = {}   # a user's jitted function -> the same, compiled with bounds checks


def _bounds_checked(func):
    """``func`` compiled again from its Python code with ``boundscheck=True``,
    its other options kept: an index out of range then raises IndexError (the
    run ends FAILED) instead of reading or writing outside the array and
    crashing the process or corrupting other runs.  Functions it calls keep
    their own compilation."""
    if func not in _CHECKED:
        options = {k: v for k, v in getattr(func, "targetoptions", {}).items()
                   if k in ("fastmath", "error_model", "locals", "inline")}
        # Said explicitly: compiled from within a kernel, a function without
        # it would take the kernel's error model, turning its exceptions into
        # silent infinities.
        options.setdefault("error_model", "python")
        _CHECKED[func] = numba.njit(boundscheck=True, **options)(func.py_func)
    return _CHECKED[func]


class LeastSquares(Problem):
    """Mean-squared-error fit of a model ``yhat = model(theta, xi)`` to data.

    The loss is ``mean((model(theta, x_i) - y_i) ** 2)`` over the data (or the
    current mini-batch) and its gradient ``mean(2 (yhat_i - y_i) dyhat/dtheta)``,
    as the tutorial derives it by hand.

    Parameters
    ----------
    model : numba.njit function
        ``model(theta, xi) -> float``, ``theta`` of shape ``(dim,)``, ``xi`` a float.
    model_grad : numba.njit function
        ``model_grad(theta, xi, out)`` writes d yhat / d theta into ``out``.
    x, y : array_like, shape (n,)
        The data, finite.
    dim : int
        Number of parameters.
    name : str, optional
    groups : dict or sequence of (name, size), optional
        Parameter groups with a learning rate each (see `Problem`).
    checked : bool, default True
        Bounds checking for ``model`` and ``model_grad`` (see `Problem`).

    Examples
    --------
    >>> import numba, numpy as np, fastgd as fg
    >>> @numba.njit
    ... def line(theta, xi):
    ...     return theta[0] * xi + theta[1]
    >>> @numba.njit
    ... def line_grad(theta, xi, out):
    ...     out[0] = xi
    ...     out[1] = 1.0
    >>> x = np.linspace(0, 1, 50)
    >>> fit = fg.LeastSquares(line, line_grad, x, 3 * x + 1, dim=2)
    >>> res = fg.minimize(fit, x0=[0.0, 0.0], lr=0.5, epochs=2000)
    >>> res.x.round(4).tolist()
    [3.0, 1.0]
    """

    def __init__(self, model: Callable, model_grad: Callable, x: ArrayLike, y: ArrayLike,
                 dim: int, *, name: str | None = None,
                 groups: Sequence | None = None, checked: bool = True) -> None:
        _require_jitted(model, "model")
        _require_jitted(model_grad, "model_grad")
        self.model = model
        self.model_grad = model_grad
        self.checked = bool(checked)
        self.dim = check.integer(dim, "dim", low=1)
        self.groups = as_groups(groups, self.dim)
        self.name = str(name) if name is not None else model.__name__
        self.batched = False
        self._data = as_data(x, y)
        self._source = None
        self._builtin = None
        self._adapted = None
        self._factory = None

    @classmethod
    def from_expression(cls, expression: Any, params: str | Sequence | None = None, *,
                        x: ArrayLike, y: ArrayLike, name: str | None = None) -> LeastSquares:
        """A least-squares fit of a model written as a formula in ``x`` and its
        parameters; the model's derivatives derived by SymPy.

        The loss and gradient are generated as batched kernels shaped like the
        built-in `fastgd.problems.exp_linear_fit` (data loop outside, runs as
        lanes inside): ``mean((yhat_i - y_i) ** 2)`` and
        ``mean(2 (yhat_i - y_i) dyhat/dtheta)``.  Needs SymPy.

        Parameters
        ----------
        expression : str or sympy.Expr
            The model ``yhat``, in the data variable ``x`` and the parameters
            (what `Problem.from_expression` allows).
        params : str or sequence, optional
            Parameter names in order (``"a b c"``); by default the names other
            than ``x``, sorted.
        x, y : array_like, shape (n,)
            The data.
        name : str, optional

        Returns
        -------
        LeastSquares
            With ``variables`` and ``source`` as extra attributes.

        Examples
        --------
        >>> import fastgd as fg
        >>> x, y = fg.problems.exp_linear_data(100, seed=0)
        >>> fit = fg.LeastSquares.from_expression("exp(-a*x) + b*x + c",
        ...                                       params="a b c", x=x, y=y)
        >>> fit.variables
        ('a', 'b', 'c')
        >>> bool(fit([1.0, 2.0, 3.0]) == fg.problems.exp_linear_fit(x, y)([1.0, 2.0, 3.0]))
        True
        """
        from .expression import least_squares, rebuild
        built = least_squares(expression, params, name=name)
        self = cls._from_source(built.problem_source, data=as_data(x, y))
        self.model, self.model_grad = built.model, None  # model: for plot.fit's curve
        self.variables, self.source = tuple(built.variables), built.source
        self._factory = (rebuild, ("least_squares", expression, params, name,
                                   self._data[0], self._data[1]))
        return self

    def _adapter_key(self):
        return (LeastSquares, self.model, self.model_grad, self.dim,
                getattr(self, "checked", True))

    def _user_functions(self):
        funcs = (self.model, self.model_grad)
        return tuple(map(_bounds_checked, funcs)) if getattr(self, "checked", True) else funcs

    def _adapt(self):
        (model, model_grad), dim = self._user_functions(), self.dim

        @jit(FUN_SIG, cache=False)
        def kfun(X, data, rows, F, fail):
            theta = np.empty(dim)
            m = rows.shape[1]
            for c in range(X.shape[1]):
                for d in range(dim):
                    theta[d] = X[d, c]
                r = 0 if rows.shape[0] == 1 else c
                total = 0.0
                try:
                    for i in range(m):
                        k = rows[r, i]
                        total += (model(theta, data[0, k]) - data[1, k]) ** 2
                except Exception:  # noqa: BLE001 - the run fails, not the sweep
                    fail[c] = 1
                F[c] = total / m

        @jit(GRAD_SIG, cache=False)
        def kgrad(X, data, rows, G, fail):
            theta = np.empty(dim)
            g = np.empty(dim)
            m = rows.shape[1]
            for c in range(X.shape[1]):
                for d in range(dim):
                    theta[d] = X[d, c]
                    G[d, c] = 0.0
                r = 0 if rows.shape[0] == 1 else c
                try:
                    for i in range(m):
                        k = rows[r, i]
                        twice_resid = 2.0 * (model(theta, data[0, k]) - data[1, k])
                        model_grad(theta, data[0, k], g)
                        for d in range(dim):
                            G[d, c] += twice_resid * g[d]
                except Exception:  # noqa: BLE001
                    fail[c] = 1
                for d in range(dim):
                    G[d, c] /= m
        return kfun, kgrad

    def _precompile(self):
        _check_arity(self.model, "model", self.name)
        _check_arity(self.model_grad, "model_grad", self.name)
        _probe.precompile(self.model, "x", "f")
        _probe.precompile(self.model_grad, "x", "f", "x")

    def _probe_user(self, note, points):
        _probe.check_least_squares(note, self.model, self.model_grad, points, self._data,
                                   self.name)


#: How fastgd calls each user function (by name and batched=), and what to
#: change when the function cannot take that call.
_CALLS = {
    ("f", False): (1, "f(x) -> float, x a float64 array of shape (dim,)",
                   "for functions of a block of points, f(X, F) and grad(X, G), pass "
                   "batched=True"),
    ("grad", False): (2, "grad(x, out), writing the gradient into out (shape (dim,)) and "
                      "returning nothing",
                      "a grad that returns an array must fill out instead "
                      "(out[0] = ...; out[1] = ...); for functions of a block of points, "
                      "pass batched=True"),
    ("f", True): (2, "f(X, F), X of shape (dim, lanes) and F of shape (lanes,), as "
                  "batched=True asks",
                  "for per-point functions f(x) -> float and grad(x, out), leave out "
                  "batched=True"),
    ("grad", True): (2, "grad(X, G), X and G of shape (dim, lanes), as batched=True asks",
                     "for per-point functions f(x) -> float and grad(x, out), leave out "
                     "batched=True"),
    ("model", False): (2, "model(theta, xi) -> float, theta of shape (dim,), xi a float",
                       "write the model of one data point xi"),
    ("model_grad", False): (3, "model_grad(theta, xi, out), writing d yhat / d theta into "
                            "out (shape (dim,)) and returning nothing",
                            "a model_grad that returns an array must fill out instead"),
}


def _check_arity(func, fname, pname, batched=False):
    """Refuse, before any probe or kernel, a function that cannot take the
    arguments fastgd passes it: say which call fastgd makes and how to fix it
    (Numba itself would only say "too many arguments: expected 1, got 2")."""
    count, expected, fix = _CALLS[fname, batched]
    try:
        inspect.signature(func.py_func).bind(*range(count))
    except AttributeError:   # not a plain jitted function: the probe calls it as it is
        return
    except TypeError:
        raise TypeError(f"{fname} of problem {pname!r} cannot be called as fastgd calls it: "
                        f"{expected}; {fix}") from None


_restored = {}  # token -> problem, the few most recent, per process


def _restore(cls, state, token):
    # Every chunk sent to a worker unpickles the problem again; handing back the
    # instance already restored in this process keeps its compiled adapters, so
    # a worker compiles a user's problem once, not once per chunk.
    self = _restored.get(token)
    if self is None:
        self = cls.__new__(cls)
        self.__dict__.update(state, _adapted=None)
        if len(_restored) >= 16:
            del _restored[next(iter(_restored))]
        _restored[token] = self
    return self


def as_groups(groups, dim):
    """Validated parameter groups as ``((name, size), ...)``, or None.

    ``groups`` is None, a dict ``{name: size}`` or a sequence of ``(name, size)``
    pairs, in parameter order; names are identifiers (rates per group are
    ``lr={name: ...}``, swept as dims ``lr_<name>``), sizes add up to ``dim``.
    """
    if groups is None:
        return None
    pairs = list(groups.items()) if isinstance(groups, dict) else list(groups)
    try:
        pairs = [(str(name), int(size)) for name, size in pairs]
    except (TypeError, ValueError):
        raise TypeError("groups must be a dict {name: size} or a sequence of "
                        f"(name, size) pairs, got {groups!r}") from None
    names = [name for name, _ in pairs]
    if (not pairs or len(set(names)) != len(names)
            or not all(name.isidentifier() or name.isdigit() for name in names)):
        raise ValueError(f"groups must have distinct names (identifiers or digits), "
                         f"got {names}")
    if any(size < 1 for _, size in pairs) or sum(size for _, size in pairs) != dim:
        raise ValueError(f"groups' sizes must be >= 1 and add up to dim={dim}, "
                         f"got {[size for _, size in pairs]}")
    return tuple(pairs)


def as_data(x, y):
    """Validate a data set and stack it as the kernels' (2, n) array."""
    arrays = []
    for name, arr in (("x", x), ("y", y)):
        arr = check.real_array(arr, name)
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"{name} must be a non-empty 1-D array, got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite (it contains NaN or inf)")
        arrays.append(arr)
    if arrays[0].shape != arrays[1].shape:
        raise ValueError(
            f"x and y must have the same length, got {arrays[0].size} and {arrays[1].size}")
    return np.ascontiguousarray(np.stack(arrays))
