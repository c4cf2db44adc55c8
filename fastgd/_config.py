"""The one place that sets Numba options and the kernels' function signatures.

Every problem is handed to the kernels as a pair of *batched* first-class
functions that work on a block of runs at once:

``grad(X, data, rows, G, fail)``
    X is (dim, lanes), the points of a block of runs; data is (k, n), the
    problem's data set (empty for analytic problems); rows is (1, m) or
    (lanes, m), the data rows of the current mini-batch, shared by all lanes or
    one row per lane; G (dim, lanes) receives the gradients; fail (lanes,) is
    set to 1 for a lane where the function raised (a user's function, through
    its adapter in `fastgd.problem`): that run ends with status FAILED.
``fun(X, data, rows, F, fail)``
    the same, writing objective values into F (lanes,).

Explicit signatures are what let one cached kernel take any objective: the
kernel's on-disk cache key then holds only types, never the address of a
particular function, and a new objective compiles only itself.
"""

from numba import njit, types

#: Lanes in a block: the inner loop runs across this many runs as SIMD lanes,
#: and a block's state (dim x LANES doubles) stays in L1 for all its updates.
LANES = 64
#: Lanes in a block of the float32 kernels (dtype=np.float32): twice as many, the
#: same bytes.  A vector holds 16 float32 lanes, and a block of 64 would be only
#: four vectors, whose updates (a chain of dependent operations per epoch) wait
#: on each other's latency instead of filling the pipeline: measured, 64 lanes
#: gain 1.1x over float64 on the quartic and 128 lanes 1.9x.
LANES_F32 = 128

_f8_2d = types.float64[:, ::1]
_i8_2d = types.int64[:, ::1]

_fail = types.int8[::1]
GRAD_SIG = types.void(_f8_2d, _f8_2d, _i8_2d, _f8_2d, _fail)
FUN_SIG = types.void(_f8_2d, _f8_2d, _i8_2d, types.float64[::1], _fail)
GRAD_TYPE = types.FunctionType(GRAD_SIG)
FUN_TYPE = types.FunctionType(FUN_SIG)

# The same for the kernels of dtype=np.float32: points, data and outputs in float32.
_f4_2d = types.float32[:, ::1]
GRAD_SIG_F32 = types.void(_f4_2d, _f4_2d, _i8_2d, _f4_2d, _fail)
FUN_SIG_F32 = types.void(_f4_2d, _f4_2d, _i8_2d, types.float32[::1], _fail)
GRAD_TYPE_F32 = types.FunctionType(GRAD_SIG_F32)
FUN_TYPE_F32 = types.FunctionType(FUN_SIG_F32)


class FunctionPointer(types.WrapperAddressProtocol):
    """A compiled function as a kernel's first-class function argument, its
    address looked up once: passed as itself, a dispatcher is looked up again
    on every kernel call (about 50 us each, a tenth of a small call)."""

    def __init__(self, dispatcher, signature):
        self.dispatcher = dispatcher   # keeps the compiled code alive
        self._signature = signature
        self._address = None

    def __wrapper_address__(self):
        if self._address is None:
            result = self.dispatcher.get_compile_result(self._signature)
            self._address = result.library.get_pointer_to_function(
                result.fndesc.llvm_cfunc_wrapper_name)
        return self._address

    def signature(self):
        return self._signature


_POINTERS = {}


def function_pointer(dispatcher, signature):
    """The `FunctionPointer` of a compiled function, made once per process."""
    key = (dispatcher, signature)
    if key not in _POINTERS:
        _POINTERS[key] = FunctionPointer(dispatcher, signature)
    return _POINTERS[key]


#: Signatures of the user's per-point functions: f(x) -> float, grad(x, out).
POINT_FUN_SIG = types.float64(types.float64[::1])
POINT_GRAD_SIG = types.void(types.float64[::1], types.float64[::1])

# fastmath stays off: `nnan`/`ninf` let LLVM delete the finiteness tests that
# detect divergence, `reassoc` breaks the exp's rounding trick, and `contract`
# could fuse differently in vector and scalar loops, making results depend on
# how runs fall into blocks.  error_model='numpy' makes x/0 give inf/nan like
# NumPy instead of raising inside a kernel.
_OPTIONS = dict(fastmath=False, error_model="numpy", nogil=True)


#: The only fastmath flag used anywhere, and only inside fastgd._math.exp, whose
#: instructions keep their own flags when inlined: multiply-adds may fuse.  Its
#: tests check that vector lanes and scalar tails still agree bit for bit.
EXP_FASTMATH = frozenset({"contract"})


def jit(signature=None, *, parallel=False, cache=False, inline="never", fastmath=False):
    """Return the project's ``numba.njit`` decorator with its fixed options.

    ``cache`` is off by default: functions in the package are compiled as part
    of the generated kernels that call them, and only those kernels, which live
    under `fastgd._codegen.cache_dir`, are cached on disk.  Nothing is ever
    written into the package's own directory (where it would outlive an
    uninstall and shadow the next install).
    """
    options = dict(_OPTIONS, parallel=parallel, cache=cache, inline=inline,
                   fastmath=set(fastmath) if fastmath else False)
    if signature is None:
        return njit(**options)
    return njit(signature, **options)
