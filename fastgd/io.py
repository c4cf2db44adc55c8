"""Saving and loading results: one ``.npz`` file per `Result`, no pickles.

File format (version 1)
-----------------------
A NumPy ``.npz`` archive (zip of ``.npy`` files), readable with
``numpy.load(path, allow_pickle=False)`` alone:

``__meta__``
    0-d unicode array holding a JSON object: ``format`` (always
    ``"fastgd.Result"``), ``format_version`` (int), ``problem`` (str),
    ``dims`` (list of str), ``coords`` (list of the dims that have
    coordinates), ``params`` (the scalar settings: ``optimizer``, ``epochs``,
    ``seed``, ``schedule``...), ``array_params`` (names of the per-run
    hyper-parameters) and ``extra`` (JSON-able fields unknown to this version).
``field:<name>``
    Every array field of the result: ``x``, ``fun``, ``nit``, ``status``,
    ``success``, ``recorded``, ``path_x``, ``path_fun`` (the last two are left
    out when no trajectory was kept) and any array field added later.
``coord:<dim>``
    The coordinate values of each swept dim.
``param:<name>``
    Each per-run argument (``x0``, ``lr``, ``momentum``, ...), stored without
    its broadcast axes (a swept ``lr`` of a 1000 x 1000 sweep takes 1000
    numbers, not a million); `load` broadcasts it back to the batch shape
    (``x0`` keeps its trailing point axis).

Readers refuse a file whose ``format_version`` is newer than theirs.
"""

import dataclasses
import json
import os

import numpy as np

from .result import Result

FORMAT = "fastgd.Result"
#: Version of the file layout written by `save`; bump on incompatible changes.
FORMAT_VERSION = 1

_JSON_SCALARS = (str, int, float, bool, type(None))


def _compact(arr):
    """The smallest array that broadcasts back to ``arr`` (drops stride-0 axes)."""
    arr = np.asarray(arr)
    index = tuple(slice(0, 1) if s == 0 and n > 1 else slice(None)
                  for s, n in zip(arr.strides, arr.shape))
    return np.array(arr[index])  # a copy: ascontiguousarray would make 0-d 1-d


def _json_scalar(value):
    """``value`` as a plain JSON scalar, or raise TypeError."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, _JSON_SCALARS):
        return value
    raise TypeError(type(value).__name__)


def save(result, path, *, compress=True):
    """Write a `Result` to ``path`` as a versioned ``.npz`` archive.

    Parameters
    ----------
    result : Result
        From `fastgd.minimize` or `fastgd.sweep`.
    path : str or os.PathLike
        Written exactly as given (no ``.npz`` is appended).
    compress : bool, default True
        Deflate the arrays (smaller, a little slower for millions of runs).

    Raises
    ------
    TypeError
        If ``result`` is not a `Result`, or a parameter cannot be stored.

    See Also
    --------
    load : the inverse.

    Examples
    --------
    >>> import os, tempfile, numpy as np, fastgd as fg
    >>> res = fg.sweep(fg.problems.quartic, x0=[-2.0, 2.0], lr=[0.01, 0.02],
    ...                epochs=50, record=[0])
    >>> path = os.path.join(tempfile.mkdtemp(), "quartic.npz")
    >>> fg.save(res, path)
    >>> back = fg.load(path)
    >>> back.dims, np.array_equal(back.x, res.x), back.path(0)[0].shape
    (('x0', 'lr'), True, (51, 1))
    """
    if not isinstance(result, Result):
        raise TypeError(f"result must be a fastgd.Result, got {type(result).__name__}")
    arrays, extra = {}, {}
    for f in dataclasses.fields(result):
        if f.name in ("dims", "coords", "params", "problem"):
            continue
        value = getattr(result, f.name)
        if isinstance(value, np.ndarray):
            arrays[f"field:{f.name}"] = value
        elif value is not None:
            try:
                extra[f.name] = _json_scalar(value)
            except TypeError:
                raise TypeError(f"cannot save field {f.name!r} of type "
                                f"{type(value).__name__}") from None
    for dim, values in result.coords.items():
        arrays[f"coord:{dim}"] = np.asarray(values)
    scalars, array_params = {}, []
    for name, value in result.params.items():
        if isinstance(value, np.ndarray):
            arrays[f"param:{name}"] = _compact(value)
            array_params.append(name)
        else:
            try:
                scalars[name] = _json_scalar(value)
            except TypeError:
                raise TypeError(f"cannot save parameter {name!r} of type "
                                f"{type(value).__name__}") from None
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION,
            "problem": str(result.problem), "dims": list(result.dims),
            "coords": list(result.coords), "params": scalars,
            "array_params": array_params, "extra": extra}
    arrays["__meta__"] = np.array(json.dumps(meta))
    writer = np.savez_compressed if compress else np.savez
    with open(os.fspath(path), "wb") as fh:
        writer(fh, **arrays)


def load(path):
    """Read a `Result` written by `save`.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    Result
        Equal to the saved one field by field; per-run hyper-parameters are
        read-only broadcast views, as `fastgd.sweep` returns them.  Fields
        this version of fastgd does not know are dropped.

    Raises
    ------
    ValueError
        If the file is not a fastgd result, or was written by a newer format.

    Examples
    --------
    See `save`.
    """
    with np.load(os.fspath(path), allow_pickle=False) as npz:
        if "__meta__" not in npz.files:
            raise ValueError(f"{os.fspath(path)!r} is not a saved fastgd result "
                             "(no __meta__ entry)")
        meta = json.loads(str(npz["__meta__"]))
        if meta.get("format") != FORMAT:
            raise ValueError(f"{os.fspath(path)!r} is not a saved fastgd result")
        version = meta.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ValueError(f"{os.fspath(path)!r} has format version {version}; this "
                             f"fastgd reads versions up to {FORMAT_VERSION}: upgrade fastgd")
        data = {key: npz[key] for key in npz.files if key != "__meta__"}

    fields = {key.split(":", 1)[1]: value for key, value in data.items()
              if key.startswith("field:")}
    fields.update(meta["extra"])
    shape = fields["fun"].shape
    # A per-run parameter has the batch axes first, then its own (x0: the point's).
    params = {}
    for name in meta["array_params"]:
        value = data[f"param:{name}"]
        params[name] = np.broadcast_to(value, shape + value.shape[len(shape):])
    params.update(meta["params"])
    known = {f.name for f in dataclasses.fields(Result)}
    kwargs = {k: v for k, v in fields.items() if k in known}
    return Result(dims=tuple(meta["dims"]),
                  coords={dim: data[f"coord:{dim}"] for dim in meta["coords"]},
                  params=params, problem=meta["problem"], **kwargs)
