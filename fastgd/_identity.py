"""What identifies a sweep: a SHA-256 over everything that determines its result.

A resumable ``out=`` directory may only hand back chunks computed by the same
sweep.  Names are not enough (two objectives both called ``f``, a formula given
the same ``name=``, ``quadratic(2, 1e6)`` and ``quadratic(2, 1.000004e6)``), so
the identity covers:

* a problem built by fastgd (built-ins, `testfunctions.quadratic`, formulas,
  `problems.exp_linear_fit`) by the call that made it: the factory's name and
  its arguments (condition number, seed, formula text, data), hashed exactly;
* every jitted function the problem holds (a user's ``f`` and ``grad``, or
  ``model`` and ``model_grad``; a built-in's kernels) by its code: bytecode,
  constants, the names it uses, default arguments, closure cells, and the
  values of the module globals it refers to when those are what Numba
  freezes into compiled code (numbers, arrays, tuples, other functions,
  followed recursively to a bounded depth and count);
* the problem's data, dimension and kind, fastgd's version, and every
  argument of the sweep (`fastgd._api._Task.fingerprint`).

A global that Numba cannot freeze (a list, a dict, an arbitrary object)
contributes its type only: compiled code cannot depend on its state, and
hashing it would make the identity depend on what else the process did.
"""

import dataclasses
import hashlib
import types

import numpy as np
from numba.extending import is_jitted

#: Functions reached from the problem's functions through globals and
#: closures are followed this deep, and at most this many are hashed.
MAX_DEPTH = 6
MAX_FUNCTIONS = 256

_SCALARS = (type(None), bool, int, float, complex, str, bytes)


class _Hasher:
    def __init__(self):
        self.digest = hashlib.sha256()
        self.functions = {}   # id -> order of first visit: shared functions hash once

    def tag(self, *words):
        self.digest.update(repr(words).encode())

    def value(self, v, depth=0):
        """Feed ``v`` by content where that is defined, by type otherwise."""
        if isinstance(v, _SCALARS):
            self.tag(type(v).__name__, v)
        elif isinstance(v, np.generic):
            self.tag("np", v.dtype.str, v.item() if v.dtype.kind != "V" else repr(v))
        elif isinstance(v, np.ndarray):
            self.array(v)
        elif isinstance(v, (tuple, list, frozenset, set)):
            items = sorted(v, key=repr) if isinstance(v, (set, frozenset)) else v
            self.tag(type(v).__name__, len(items))
            for item in items:
                self.value(item, depth)
        elif isinstance(v, dict):
            self.tag("dict", len(v))
            for key in sorted(v, key=repr):
                self.value(key, depth)
                self.value(v[key], depth)
        elif isinstance(v, types.ModuleType):
            self.tag("module", v.__name__)
        elif isinstance(v, type):
            self.tag("type", v.__module__, v.__qualname__)
        elif is_jitted(v) or isinstance(v, (types.FunctionType, types.BuiltinFunctionType)):
            self.function(v, depth)
        elif isinstance(v, types.CodeType):
            self.code(v)
        elif dataclasses.is_dataclass(v) and not isinstance(v, type):
            # fastgd's own records (a problem's generated source, a schedule).
            self.tag("dataclass", type(v).__module__, type(v).__qualname__)
            for f in dataclasses.fields(v):
                self.tag(f.name)
                self.value(getattr(v, f.name), depth)
        elif type(v).__module__.startswith("sympy"):
            # A formula given as a SymPy expression: its tree, in full.
            import sympy
            self.tag("sympy", sympy.srepr(v))
        else:
            self.tag("object", type(v).__module__, type(v).__qualname__)

    def array(self, a):
        self.tag("ndarray", a.dtype.str, a.shape)
        if a.dtype.hasobject:
            for item in a.ravel():
                self.value(item)
        else:
            feed_bytes(self.digest, a)

    def function(self, func, depth):
        name = (getattr(func, "__module__", None), getattr(func, "__qualname__", None))
        if id(func) in self.functions:
            self.tag("seen", self.functions[id(func)])
            return
        self.functions[id(func)] = len(self.functions)
        if depth > MAX_DEPTH or len(self.functions) > MAX_FUNCTIONS:
            self.tag("function", *name)   # beyond the bound: by name only
            return
        options = {}
        if is_jitted(func):
            options = dict(getattr(func, "targetoptions", {}))
            func = func.py_func
        py = getattr(func, "__code__", None)
        if py is None:                    # a builtin (math.sin): its name says it all
            self.tag("builtin", *name)
            return
        self.tag("function", *name)
        self.value(options, depth)
        self.code(py)
        self.frozen(func.__defaults__, depth + 1)
        self.frozen(func.__kwdefaults__, depth + 1)
        for cell in func.__closure__ or ():
            try:
                content = cell.cell_contents
            except ValueError:            # an empty cell (a name bound later)
                content = "<empty cell>"
            self.frozen(content, depth + 1)
        scope = func.__globals__
        for gname in sorted(_global_names(py)):
            if gname in scope:
                self.tag("global", gname)
                self.frozen(scope[gname], depth + 1)

    def frozen(self, v, depth):
        """A global, closure cell or default of a function: by content what Numba
        freezes into compiled code (numbers, strings, arrays, tuples of them,
        functions, modules, classes), by type anything else (a module's cache
        dict, say), whose state compiled code cannot see and which would make
        the identity depend on what else the process did."""
        if isinstance(v, tuple):
            self.tag("tuple", len(v))
            for item in v:
                self.frozen(item, depth)
        elif isinstance(v, (list, dict, set, frozenset)):
            self.tag("object", type(v).__qualname__)
        else:
            self.value(v, depth)

    def code(self, co):
        self.tag("code", co.co_argcount, co.co_kwonlyargcount, co.co_flags,
                 co.co_names, co.co_varnames, co.co_freevars, co.co_cellvars)
        self.digest.update(co.co_code)
        for const in co.co_consts:
            self.value(const)


def feed_bytes(digest, a):
    """Feed an array's bytes, in C order, to ``digest`` (no copy when contiguous)."""
    a = np.ascontiguousarray(a)
    if a.size:
        digest.update(a.reshape(-1).view(np.uint8))


def _global_names(code):
    """Names a code object and the code nested in it may look up as globals."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def fingerprint(*parts):
    """SHA-256 (hex) of ``parts``, in order, each hashed by content."""
    hasher = _Hasher()
    for part in parts:
        hasher.value(part)
    return hasher.digest.hexdigest()


def problem_parts(problem):
    """What determines a problem's results, as values for `fingerprint`."""
    parts = [type(problem).__module__, type(problem).__qualname__, problem.name,
             problem.dim, problem.batched, problem._data,
             repr(getattr(problem, "groups", None)), getattr(problem, "checked", True)]
    if problem._factory is not None:
        # Made by fastgd: the factory and the arguments that rebuild it exactly
        # (by name: its code may consult caches whose content varies).
        factory, args = problem._factory
        parts += ["factory", factory.__module__, factory.__qualname__, args]
    # Generated source, where the problem has it (built-ins and formulas).
    parts += ["source", getattr(problem, "_source", None)]
    # Every jitted function the problem holds (a user's f and grad, model and
    # model_grad; a built-in's kernels), by code and the values it depends on.
    parts.append("functions")
    for key, value in sorted(vars(problem).items()):
        if is_jitted(value):
            parts += [key, value]
    return parts
