"""Objectives written as formulas: gradients derived by SymPy, kernels generated as source.

`Problem.from_expression` and `LeastSquares.from_expression` call in here.  The
formula is checked (only numbers, the variables, ``+ - * / **`` and the
functions in `FUNCTIONS`), differentiated symbolically, and turned into Python
source for a *batched* function over a block of runs, lanes innermost, the
formula inlined, exactly the shape of the hand-written built-ins in
`fastgd.problems`.  That source is compiled with ``exec`` and wrapped with the
project's ``jit(FUN_SIG / GRAD_SIG, cache=False)``: a formula runs as fast as a
built-in, and only its two small functions compile (the cached descent kernel
takes them as first-class functions).

Text is evaluated as written: the objective (or model) keeps the order of
operations of the text, so ``"exp(x + y) + x**2 - y**2"`` gives the built-in
``saddle``'s values bit for bit.  Gradients come from SymPy (after common
subexpression elimination); a product in a derivative is evaluated left to
right with function factors before powers of variables, and a least-squares
gradient as ``2 * (yhat - y) * factor * ...``: the order the tutorial derives by
hand.  SymPy is needed only here, and imported on first use.
"""

import ast
import contextlib
import functools
import linecache
import math
import signal
import sys
import threading
import time
from types import SimpleNamespace

import numpy as np

from ._codegen import ProblemSource, with_fail_argument
from ._config import jit
from ._math import exp as _exp

#: Functions a formula may call, by name, and what the generated code calls.
FUNCTIONS = {
    "exp": _exp, "log": math.log, "sqrt": math.sqrt,
    "sin": math.sin, "cos": math.cos, "tan": math.tan,
    "sinh": math.sinh, "cosh": math.cosh, "tanh": math.tanh,
    "asin": math.asin, "acos": math.acos, "atan": math.atan,
    "abs": abs, "sign": np.sign,
}
#: Named constants a formula may use.
CONSTANTS = {"pi": math.pi}

_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)
_counter = [0]


def _sympy():
    try:
        import sympy
    except ImportError:
        raise ImportError(
            "building a problem from an expression needs SymPy: "
            "pip install sympy (or pip install 'fastgd[sympy]')") from None
    return sympy


def _names(spec, what):
    """Variable names from None, 'a b c', 'a, b, c' or a sequence (of str or Symbols)."""
    if spec is None:
        return None
    if isinstance(spec, str):
        names = spec.replace(",", " ").split()
    else:
        names = [str(v) for v in spec]
    for n in names:
        if not n.isidentifier() or n.startswith("_") or n in FUNCTIONS or n in CONSTANTS:
            raise ValueError(f"{what}: {n!r} is not a usable variable name "
                             f"(an identifier, not starting with '_', not a function name)")
    if len(set(names)) != len(names) or not names:
        raise ValueError(f"{what} must be distinct names, at least one; got {names}")
    return names


def _check_tree(tree, text):
    """Names used in a parsed formula; ValueError for anything not allowed."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.BitXor):
                raise ValueError(f"in {text!r}: use ** for powers, not ^")
            if not isinstance(node.op, _BINOPS):
                raise ValueError(f"in {text!r}: operator {type(node.op).__name__} "
                                 f"is not allowed (only + - * / **)")
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                raise ValueError(f"in {text!r}: unary {type(node.op).__name__} is not allowed")
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                func = ast.unparse(node.func)
                raise ValueError(f"in {text!r}: unknown function {func!r}; known: "
                                 f"{sorted(FUNCTIONS)}")
            if len(node.args) != 1 or node.keywords:
                raise ValueError(f"in {text!r}: {node.func.id}() takes one argument")
        elif isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise ValueError(f"in {text!r}: constant {node.value!r} is not a real number")
        elif not isinstance(node, (ast.Expression, ast.Load, ast.operator, ast.unaryop)):
            raise ValueError(f"in {text!r}: {type(node).__name__} is not allowed in a formula")
    return names - set(FUNCTIONS)


def _parse(text):
    try:
        return ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        raise ValueError(f"cannot parse the expression {_short(text)}: {err.msg}") from None
    except (RecursionError, MemoryError):
        raise ValueError(f"the expression {_short(text)} is nested too deeply to parse "
                         f"(at most {MAX_DEPTH} levels)") from None


# --- limits: what a formula may ask of SymPy and of the generated code -----------

#: A formula's text may have at most this many characters ...
MAX_LENGTH = 20_000
#: ... at most this many nodes (numbers, names, operations, calls) ...
MAX_NODES = 5_000
#: ... nested at most this deep (``a + b + c`` is two levels: sums nest left) ...
MAX_DEPTH = 1_000
#: ... and constant exponents at most this large in absolute value: SymPy
#: computes powers of numbers exactly, so ``9**9**9`` would never finish.
MAX_EXPONENT = 1024
#: Seconds the symbolic work of one formula (parsing, differentiation, common
#: subexpressions, printing; not Numba's compilation) may take; past it, a
#: ValueError.
SYMBOLIC_SECONDS = 30.0
#: Integers beyond this are used as floats (exact for powers of two): the
#: generated code computes in float64 and Numba has no integers past 64 bits.
_EXACT_INT = 2 ** 53


def _short(text, limit=80):
    text = str(text)
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _check_limits(tree, text):
    """Size, depth and constants of a parsed formula, checked before SymPy sees
    it; returns the tree with integer constants beyond 2**53 made floats (and
    whether it changed).  ValueErrors say which limit was hit."""
    where = f"in {_short(text)}"
    order, stack = [], [(tree.body, 1)]
    while stack:   # iterative: a 400-term sum is 400 levels deep
        node, depth = stack.pop()
        order.append(node)
        if len(order) > MAX_NODES:
            raise ValueError(f"{where}: the formula has more than {MAX_NODES} nodes "
                             "(the limit fastgd.expression.MAX_NODES)")
        if depth > MAX_DEPTH:
            raise ValueError(f"{where}: the formula is nested more than {MAX_DEPTH} levels "
                             "deep (the limit fastgd.expression.MAX_DEPTH)")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node)
                     if isinstance(child, ast.expr))
    values = {}   # id(node) -> exact value of a constant subexpression
    for node in reversed(order):   # children before parents
        value = _constant_value(node, values, where)
        if value is not None:
            values[id(node)] = value
    big = [node for node in order if isinstance(values.get(id(node)), int)
           and abs(values[id(node)]) > _EXACT_INT]
    floated = set()
    for node in big:               # outermost first: pre-order
        if id(node) in floated:
            continue
        for inner in ast.walk(node):
            floated.add(id(inner))
            if isinstance(inner, ast.Constant) and isinstance(inner.value, int) \
                    and not isinstance(inner.value, bool):
                inner.value = float(inner.value)
    return tree, bool(big)


def _constant_value(node, values, where):
    """The exact value of ``node`` if it is arithmetic on numbers only, else None."""
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, int) and not isinstance(value, bool) and \
                value.bit_length() > 1024:
            raise ValueError(f"{where}: the number {_short(value)} is beyond the float "
                             "range (at most 1.8e308)")
        return value if isinstance(value, (int, float)) else None
    if isinstance(node, ast.UnaryOp) and id(node.operand) in values:
        value = values[id(node.operand)]
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        right = values.get(id(node.right))
        if isinstance(node.op, ast.Pow) and right is not None and abs(right) > MAX_EXPONENT:
            raise ValueError(f"{where}: the exponent {_short(ast.unparse(node.right))} = "
                             f"{float(right):.6g} is larger than {MAX_EXPONENT} in absolute "
                             "value (the limit fastgd.expression.MAX_EXPONENT)")
        left = values.get(id(node.left))
        if left is None or right is None:
            return None
        try:
            if isinstance(node.op, ast.Add):
                value = left + right
            elif isinstance(node.op, ast.Sub):
                value = left - right
            elif isinstance(node.op, ast.Mult):
                value = left * right
            elif isinstance(node.op, ast.Div):
                value = left / right
            elif isinstance(node.op, ast.Pow):
                if isinstance(left, int) and isinstance(right, int) and right >= 0:
                    # exact, and bounded: |left| < 2**1024, right <= MAX_EXPONENT
                    value = left ** right
                else:
                    value = float(left) ** float(right)
            else:
                return None
            if isinstance(value, complex):
                raise ValueError("complex")
            if abs(float(value)) == math.inf:
                raise OverflowError
        except ZeroDivisionError:
            raise ValueError(f"{where}: division by zero in "
                             f"{_short(ast.unparse(node))}") from None
        except OverflowError:
            raise ValueError(f"{where}: the constant {_short(ast.unparse(node))} is beyond "
                             "the float range (at most 1.8e308)") from None
        except ValueError:
            raise ValueError(f"{where}: the constant {_short(ast.unparse(node))} is not a "
                             "real number") from None
        return value
    return None


def _package(frame):
    return "" if frame is None else frame.f_globals.get("__name__", "").partition(".")[0]


class _OutOfTime(BaseException):
    # BaseException, as KeyboardInterrupt: SymPy's `except Exception` must not
    # swallow it.
    pass


@contextlib.contextmanager
def _time_limit(what):
    """Interrupt the symbolic work after `SYMBOLIC_SECONDS` with a ValueError
    (time spent compiling with Numba counts, but is never interrupted).

    SIGALRM interrupts pure-Python work such as SymPy's between bytecodes;
    it exists only on POSIX and only the main thread receives it, so
    elsewhere (a worker thread rebuilding a problem already checked in the
    main process) the work runs without a limit.
    """
    seconds = float(SYMBOLIC_SECONDS)
    if not hasattr(signal, "setitimer") or \
            threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        # Only where SymPy itself is working: never inside Numba or LLVM
        # (compiling the generated code), where an exception may be lost in a C
        # callback or leave the compiler's state half-built, and never in code
        # that runs in between, such as a garbage-collector callback of another
        # library, which cannot pass an exception on.  The timer fires again
        # 0.1 s later.
        if _package(frame) not in ("sympy", "mpmath", "fastgd"):
            return
        while frame is not None:
            if _package(frame) in ("numba", "llvmlite"):
                return
            frame = frame.f_back
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, on_alarm)
    # Re-fired every 0.1 s, should a bare `except:` somewhere swallow one.
    pending, _ = signal.setitimer(signal.ITIMER_REAL, seconds, 0.1)
    start = time.monotonic()
    try:
        yield
    except _OutOfTime:
        raise ValueError(f"{what} took longer than {seconds:g} s (the limit on symbolic "
                         "work, fastgd.expression.SYMBOLIC_SECONDS): simplify the "
                         "formula") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if pending:   # someone else's timer was running: give back what is left
            signal.setitimer(signal.ITIMER_REAL,
                             max(pending - (time.monotonic() - start), 1e-3))


def _symbolic(build):
    """Run a formula's whole build (`analytic`, `least_squares`) under the time
    limit, with recursion deep enough for formulas at the depth limit."""
    @functools.wraps(build)
    def limited(expr, *args, **kwargs):
        what = f"building {_short(expr)}"
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 10 * MAX_DEPTH + 1000))
        try:
            with _time_limit(what):
                return build(expr, *args, **kwargs)
        except RecursionError:
            raise ValueError(f"{what}: the formula is nested too deeply for the symbolic "
                             "work; split it into simpler terms") from None
        finally:
            sys.setrecursionlimit(limit)
    return limited


class _Rename(ast.NodeTransformer):
    """Variables to the generated code's local names, constants to literals."""

    def __init__(self, mapping):
        self.mapping = mapping

    def visit_Name(self, node):
        if node.id in self.mapping:
            return ast.copy_location(ast.Name(self.mapping[node.id], ast.Load()), node)
        if node.id in CONSTANTS:
            return ast.copy_location(ast.Constant(CONSTANTS[node.id]), node)
        return node

    def visit_Call(self, node):
        node.args = [self.visit(a) for a in node.args]   # keep the function's name
        return node


def _code(text, mapping, allowed):
    """The formula as Python source over the generated code's local names."""
    tree = _parse(text)
    unknown = _check_tree(tree, text) - set(allowed) - set(CONSTANTS)
    if unknown:
        raise ValueError(f"unknown names {sorted(unknown)} in {text!r}; "
                         f"the variables are {list(allowed)}")
    return ast.unparse(_Rename(mapping).visit(tree))


class _Formula(SimpleNamespace):
    """A formula in both forms: text to evaluate as written, SymPy to differentiate."""


def _formula(expr, variables, what, extra=()):
    """Parse ``expr`` (text or SymPy) into text and SymPy forms, with its variables."""
    sp = _sympy()
    given = _names(variables, what)
    if isinstance(expr, str):
        if len(expr) > MAX_LENGTH:
            raise ValueError(f"the expression {_short(expr)} has {len(expr)} characters, "
                             f"more than {MAX_LENGTH} (the limit fastgd.expression.MAX_LENGTH)")
        tree = _parse(expr)
        used = _check_tree(tree, expr) - set(CONSTANTS)
        tree, floated = _check_limits(tree, expr)
        text = ast.unparse(tree) if floated else expr
        if given is None:
            given = sorted(used - set(extra))
            if not given:
                raise ValueError(f"the expression {expr!r} has no variables")
            given = _names(given, what)
        unknown = used - set(given) - set(extra)
        if unknown:
            raise ValueError(f"unknown names {sorted(unknown)} in {expr!r}; "
                             f"the {what} are {given}" + (f" and {list(extra)}" if extra else ""))
        symbols = {n: sp.Symbol(n, real=True) for n in list(given) + list(extra)}
        local = {**symbols, "pi": sp.pi, "abs": sp.Abs, "sign": sp.sign,
                 **{f: getattr(sp, f) for f in FUNCTIONS if f not in ("abs", "sign")}}
        sym = sp.parse_expr(expr, local_dict=local)
    elif isinstance(expr, sp.Basic):
        free = {s.name: s for s in expr.free_symbols}
        if given is None:
            given = _names(sorted(set(free) - set(extra)) or None, what)
            if given is None:
                raise ValueError(f"the expression {expr} has no variables")
        unknown = set(free) - set(given) - set(extra)
        if unknown:
            raise ValueError(f"unknown names {sorted(unknown)} in {expr}; "
                             f"the {what} are {given}")
        symbols = {n: sp.Symbol(n, real=True) for n in list(given) + list(extra)}
        sym = expr.subs({free[n]: symbols[n] for n in free}, simultaneous=True)
        text = _Printer().doprint(sym)
        if len(text) > MAX_LENGTH:
            raise ValueError(f"the expression {_short(text)} has {len(text)} characters "
                             f"printed, more than {MAX_LENGTH} (the limit "
                             "fastgd.expression.MAX_LENGTH)")
        tree, floated = _check_limits(_parse(text), text)
        if floated:
            text = ast.unparse(tree)
    else:
        raise TypeError(f"expression must be a str or a SymPy expression, "
                        f"got {type(expr).__name__}")
    # Exact integers and fractions past 2**53 as floats with enough digits to
    # print exactly: the generated code has no arbitrary-size integers.
    sym = sym.xreplace({r: sp.Float(r, 17) for r in sym.atoms(sp.Rational)
                        if max(abs(r.p), abs(r.q)) > _EXACT_INT})
    if sym.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise ValueError(f"the expression {_short(text)} is infinite or undefined "
                         f"everywhere ({sym})")
    return _Formula(text=text, sym=sym, variables=list(given), symbols=symbols)


def _printer_class():
    from sympy.printing.pycode import PythonCodePrinter

    class Printer(PythonCodePrinter):
        def __init__(self):
            super().__init__({"fully_qualified_modules": False, "strict": True})

        def _print_sign(self, expr):
            return f"sign({self._print(expr.args[0])})"

        def _print_Pi(self, expr):
            return "pi"

        def _print_Exp1(self, expr):
            return "exp(1)"
    return Printer


def _Printer():
    return _printer_class()()


def _factors(expr):
    """A derivative as a list of factors to multiply left to right: the
    numeric coefficient first (a -1 folded into the last factor), then
    functions and common subexpressions, then powers of variables."""
    sp = _sympy()
    if not isinstance(expr, sp.Mul):
        return [expr]
    coeff, rest = expr.as_coeff_mul()
    rest = sorted(rest, key=lambda f: 1 if isinstance(f, (sp.Symbol, sp.Pow)) and
                  not f.atoms(sp.Dummy) and not str(f).startswith("_t") else 0)
    rest = list(rest)
    if coeff == -1 and rest:
        rest[-1] = -rest[-1]
    elif coeff != 1:
        rest.insert(0, coeff)
    return rest


def _cse(exprs):
    sp = _sympy()
    temps, reduced = sp.cse(exprs, symbols=sp.numbered_symbols("_t"), optimizations=None)
    return temps, reduced


def _built(name, variables, f_source, grad_source, sym):
    """The generated functions as a `fastgd._codegen.ProblemSource`; the kernels
    compile them (or load them from the cache) on first use."""
    source = ProblemSource(name, len(variables), with_fail_argument(f_source),
                           with_fail_argument(grad_source))
    return SimpleNamespace(problem_source=source, dim=len(variables), variables=variables,
                           source=f_source + "\n\n" + grad_source, name=name, sym=sym)


def _compile_model(source, name):
    """exec a least-squares model's per-point function and jit it (for plots)."""
    _counter[0] += 1
    filename = f"<fastgd expression {_counter[0]}: {name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = dict(FUNCTIONS)
    exec(compile(source, filename, "exec"), namespace)
    return jit()(namespace["model"])


def _print_all(exprs, mapping, allowed):
    printer = _Printer()
    return [_code(printer.doprint(e), mapping, allowed) for e in exprs]


@_symbolic
def analytic(expr, variables=None, *, name=None):
    """Kernels, dim and source of an objective over ``variables`` (see
    `Problem.from_expression`)."""
    sp = _sympy()
    form = _formula(expr, variables, "variables")
    names = form.variables
    mapping = {n: f"v_{n}" for n in names}
    grads = [sp.diff(form.sym, form.symbols[n]) for n in names]
    temps, reduced = _cse(grads)
    tnames = [str(t) for t, _ in temps]
    mapping.update({t: f"t{t[2:]}" for t in tnames})
    allowed = names + tnames
    f_code = _code(form.text, mapping, names)
    load = "".join(f"        v_{n} = X[{d}, c]\n" for d, n in enumerate(names))
    temp_lines = "".join(f"        {mapping[t]} = {c}\n" for t, c in
                         zip(tnames, _print_all([e for _, e in temps], mapping, allowed)))
    grad_lines = "".join(f"        G[{d}, c] = {c}\n" for d, c in
                         enumerate(_print_all(reduced, mapping, allowed)))
    f_source = (
        f"# f = {form.text}\n"
        "def f(X, data, rows, F):\n"
        "    for c in range(X.shape[1]):\n"
        f"{load}"
        f"        F[c] = {f_code}\n"
    )
    grad_source = (
        "def grad(X, data, rows, G):\n"
        "    for c in range(X.shape[1]):\n"
        f"{load}{temp_lines}{grad_lines}"
    )
    return _built(name or form.text, names, f_source, grad_source, form.sym)


@_symbolic
def least_squares(expr, params=None, *, name=None):
    """Kernels, dim and source of the mean squared error of model ``expr``
    (parameters ``params``, data variable ``x``; see `LeastSquares.from_expression`)."""
    sp = _sympy()
    form = _formula(expr, params, "params", extra=("x",))
    names = form.variables
    if "x" in names:
        raise ValueError("x is the data variable of a least-squares model, not a parameter")
    mapping = {n: f"v_{n}" for n in names}
    mapping["x"] = "x_i"
    dmodel = [sp.diff(form.sym, form.symbols[n]) for n in names]
    temps, reduced = _cse(dmodel)
    tnames = [str(t) for t, _ in temps]
    mapping.update({t: f"t{t[2:]}" for t in tnames})
    allowed = names + ["x"] + tnames
    model_code = _code(form.text, mapping, names + ["x"])
    load = [f"v_{n} = X[{d}, c]" for d, n in enumerate(names)]
    temp_lines = [f"{mapping[t]} = {c}" for t, c in
                  zip(tnames, _print_all([e for _, e in temps], mapping, allowed))]
    grad_lines = []
    for d, deriv in enumerate(reduced):
        chain = "".join(f" * ({c})" for c in _print_all(_factors(deriv), mapping, allowed)
                        if c != "1")
        grad_lines.append(f"G[{d}, c] += twice_resid{chain}")

    def over_data(body):
        # Lanes sharing their rows (full batch, unshuffled batches) read the
        # point once, outside the lane loop, which then vectorises; shuffled
        # mini-batches read a row per lane.  The same sums either way.
        lane = [" " * 16 + line for line in load + body]
        return "".join(line + "\n" for line in [
            "    if rows.shape[0] == 1:",
            "        for i in range(m):",
            "            x_i = data[0, rows[0, i]]",
            "            y_i = data[1, rows[0, i]]",
            "            for c in range(X.shape[1]):", *lane,
            "    else:",
            "        for i in range(m):",
            "            for c in range(X.shape[1]):",
            "                x_i = data[0, rows[c, i]]",
            "                y_i = data[1, rows[c, i]]", *lane])

    f_source = (
        f"# yhat = {form.text}\n"
        "def f(X, data, rows, F):\n"
        "    m = rows.shape[1]\n"
        "    F[:] = 0.0\n"
        + over_data([f"F[c] += ({model_code} - y_i) ** 2"])
        + "    for c in range(X.shape[1]):\n"
        "        F[c] /= m\n"
    )
    grad_source = (
        "def grad(X, data, rows, G):\n"
        "    m = rows.shape[1]\n"
        "    G[:, :] = 0.0\n"
        + over_data([f"y_hat = {model_code}", "twice_resid = 2 * (y_hat - y_i)",
                     *temp_lines, *grad_lines])
        + f"    for d in range({len(names)}):\n"
        "        for c in range(X.shape[1]):\n"
        "            G[d, c] /= m\n"
    )
    model_source = (
        "# Per point, for drawing the fitted curve: model(theta, xi).\n"
        "def model(theta, x_i):\n"
        + "".join(f"    v_{n} = theta[{d}]\n" for d, n in enumerate(names))
        + f"    return {model_code}\n"
    )
    built = _built(name or form.text, names, f_source, grad_source, form.sym)
    built.model = _compile_model(model_source, built.name)
    built.source += "\n\n" + model_source
    return built


def rebuild(kind, expression, variables, name, x=None, y=None):
    """Make an expression problem again (how one is unpickled in a worker)."""
    from .problem import LeastSquares, Problem
    if kind == "analytic":
        return Problem.from_expression(expression, variables, name=name)
    return LeastSquares.from_expression(expression, variables, x=x, y=y, name=name)
