"""Argument checks: every error names the argument, and all run before any kernel."""

import numbers

import numpy as np


def real_array(value, name):
    """``value`` as a float64 array, or TypeError naming ``name``.

    Numbers only: booleans, strings, dates and times are refused, not
    converted (``True`` would become 1.0, ``"3"`` 3.0).
    """
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a number or an array of numbers, got {value!r}")
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be a number or an array of numbers, got {type(value).__name__}"
        ) from None
    if raw.dtype.kind == "c":
        raise TypeError(f"{name} must be real, got complex values")
    if raw.dtype.kind == "O":
        bad = next((v for v in raw.ravel() if _not_a_number(v)), None)
        if bad is not None:
            raise TypeError(f"{name} must hold numbers, got {type(bad).__name__} {bad!r}")
    elif raw.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a number or an array of numbers, got "
                        f"{_kind_name(raw.dtype)}")
    elif isinstance(value, (list, tuple)) and _holds_bool(value):
        # NumPy turns [True, 2.5] into floats silently: look at the items.
        raise TypeError(f"{name} must hold numbers, got a bool")
    try:
        return np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be a number or an array of numbers, got {type(value).__name__}"
        ) from None


def _kind_name(dtype):
    return {"b": "booleans", "U": "strings", "S": "bytes", "M": "dates (datetime64)",
            "m": "time spans (timedelta64)", "V": "structured values"}.get(
                dtype.kind, f"dtype {dtype}")


def _not_a_number(v):
    if isinstance(v, (bool, np.bool_, str, bytes, np.datetime64, np.timedelta64)):
        return True
    # Any other number but a complex one (Decimal is a Number, not Real).
    return not isinstance(v, numbers.Number) or (isinstance(v, numbers.Complex)
                                                 and not isinstance(v, numbers.Real))


def _holds_bool(value):
    """Whether a (nested) list or tuple holds a bool, looking at every item."""
    stack = [value]
    while stack:
        for item in stack.pop():
            if isinstance(item, (bool, np.bool_)):
                return True
            if isinstance(item, (list, tuple)):
                stack.append(item)
    return False


def hyper(value, name, *, low=None, high=None, low_open=True, high_open=True):
    """A finite hyper-parameter array with every entry in the given interval."""
    arr = real_array(value, name)
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (it contains NaN or inf)")
    if low is not None:
        bad = arr <= low if low_open else arr < low
        if np.any(bad):
            op = ">" if low_open else ">="
            raise ValueError(f"{name} must be {op} {low}, got {arr[bad].flat[0]}")
    if high is not None:
        bad = arr >= high if high_open else arr > high
        if np.any(bad):
            op = "<" if high_open else "<="
            raise ValueError(f"{name} must be {op} {high}, got {arr[bad].flat[0]}")
    return arr


def integer(value, name, *, low, high=None):
    """A Python int in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    value = int(value)
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return value


def tolerance(value, name):
    """A scalar tolerance >= 0; None means off (0)."""
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not (np.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return value


def choice(value, name, options):
    if value not in options:
        raise ValueError(f"{name} must be one of {sorted(options)}, got {value!r}")
    return value
