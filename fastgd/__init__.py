"""fastgd: gradient descent over many independent runs at once, compiled with Numba."""

__version__ = "0.1.0"

from . import (
    networks,
    optimizers,
    plot,
    problems,
    reference,
    schedules,
    testfunctions,
    trainability,
)
from ._api import minimize, sweep
from .check import GradCheck, check_grad
from .io import load, save
from .optimizers import OPTIMIZERS
from .problem import LeastSquares, Problem
from .refinement import Refinement, refine
from .result import Result, Status
from .scan import LRScan, lr_scan
from .schedules import (
                        Schedule,
                        cosine_decay,
                        exponential_decay,
                        inverse_time,
                        multi_step,
                        step_decay,
                        warmup,
)
from .starts import Starts, grid, sample

__all__ = [
    "GradCheck",
    "LRScan",
    "LeastSquares",
    "OPTIMIZERS",
    "Problem",
    "Refinement",
    "Result",
    "Schedule",
    "Starts",
    "Status",
    "check_grad",
    "cosine_decay",
    "exponential_decay",
    "grid",
    "inverse_time",
    "load",
    "lr_scan",
    "minimize",
    "multi_step",
    "networks",
    "optimizers",
    "plot",
    "problems",
    "reference",
    "sample",
    "refine",
    "save",
    "schedules",
    "step_decay",
    "sweep",
    "testfunctions",
    "trainability",
    "warmup",
]
