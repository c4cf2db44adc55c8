"""fastgd: gradient descent over many independent runs at once, compiled with Numba."""

from . import problems, reference
from ._api import minimize, sweep
from .problem import LeastSquares, Problem
from .result import Result, Status
from .schedules import Schedule, step_decay

__version__ = "0.1.0"

__all__ = sorted([
    "LeastSquares",
    "Problem",
    "Result",
    "Schedule",
    "Status",
    "minimize",
    "problems",
    "reference",
    "step_decay",
    "sweep",
])
