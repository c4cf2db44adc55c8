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

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

from .result import Result, Status

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


def save(result: Result, path: str | os.PathLike, *, compress: bool = True) -> None:
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
        elif f.name in ("summary", "state"):   # per-run arrays by name
            for name, array in value.items():
                arrays[f"{f.name}:{name}"] = np.asarray(array)
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


def load(path: str | os.PathLike) -> Result:
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
        Naming the file, if it is not a fastgd result, was written by a newer
        format, or is damaged in any way: not a zip, truncated, a bad checksum
        inside the zip, an entry that is missing, pickled (never loaded), of
        the wrong type or of a shape that does not fit the others.
    OSError
        If the file cannot be opened (missing, a directory, no permission).

    Examples
    --------
    See `save`.
    """
    name = repr(os.fspath(path))
    with open(os.fspath(path), "rb") as fh:   # np.load leaks its handle on bad files
        try:
            npz = np.load(fh, allow_pickle=False)
        except Exception as err:  # noqa: BLE001 - pickles, bad headers, truncation
            raise ValueError(f"{name} is not a saved fastgd result (not a .npz archive: "
                             f"{_describe(err)})") from None
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError(f"{name} is not a saved fastgd result (a single .npy array, "
                             "not a .npz archive)")
        with npz:
            try:
                arrays = {key: npz[key] for key in npz.files}
            except Exception as err:  # noqa: BLE001 - zip, zlib, npy and pickle errors
                raise ValueError(f"{name} is damaged: {_describe(err)}") from None
    try:
        return _result(arrays)
    except _Damaged as err:
        raise ValueError(f"{name} {err}") from None


class _Damaged(Exception):
    """What is wrong with a file's content, for `load` to prefix with its name."""


def _describe(err):
    if "pickle" in str(err):
        # NumPy suggests allow_pickle=True; loading a pickle runs arbitrary code.
        return "it holds pickled objects, which fastgd never loads"
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def _result(arrays):
    """A `Result` from the arrays of a saved file, every entry checked."""
    if "__meta__" not in arrays:
        raise _Damaged("is not a saved fastgd result (no __meta__ entry)")
    meta_entry = arrays.pop("__meta__")
    if meta_entry.shape != () or meta_entry.dtype.kind != "U":
        raise _Damaged("is not a saved fastgd result (__meta__ is not a text entry)")
    try:
        meta = json.loads(str(meta_entry))
    except ValueError as err:
        raise _Damaged(f"is damaged: its __meta__ entry is not JSON ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _Damaged("is not a saved fastgd result")
    version = meta.get("format_version")
    if type(version) is not int or version < 1:
        raise _Damaged(f"is damaged: format version {version!r} is not a version number")
    if version > FORMAT_VERSION:
        raise _Damaged(f"has format version {version}; this fastgd reads versions up to "
                       f"{FORMAT_VERSION}: upgrade fastgd")
    kinds = {"problem": str, "dims": list, "coords": list, "params": dict,
             "array_params": list, "extra": dict}
    for key, kind in kinds.items():
        if not isinstance(meta.get(key), kind):
            raise _Damaged(f"is damaged: __meta__ field {key!r} is missing or not a "
                           f"{kind.__name__}")
    for key in ("dims", "coords", "array_params"):
        if not all(isinstance(v, str) for v in meta[key]):
            raise _Damaged(f"is damaged: __meta__ field {key!r} holds a non-string")
    for key in ("params", "extra"):
        if not all(isinstance(v, _JSON_SCALARS) for v in meta[key].values()):
            raise _Damaged(f"is damaged: __meta__ field {key!r} holds a non-scalar")

    def entry(key):
        if key not in arrays:
            raise _Damaged(f"is damaged: entry {key!r} is missing")
        return arrays[key]

    fields = {key.split(":", 1)[1]: value for key, value in arrays.items()
              if key.startswith("field:")}
    _check_fields(fields, entry, len(meta["dims"]))
    shape = fields["fun"].shape
    coords = {}
    for dim in meta["coords"]:
        if dim not in meta["dims"]:
            raise _Damaged(f"is damaged: coordinates for {dim!r}, which is not a dim")
        values = entry(f"coord:{dim}")
        if values.ndim == 0 or values.shape[0] != shape[meta["dims"].index(dim)]:
            raise _Damaged(f"is damaged: coordinates of {dim!r} have shape {values.shape}, "
                           f"the batch has shape {shape}")
        coords[dim] = values
    # A per-run parameter has the batch axes first, then its own (x0: the point's).
    params = {}
    for pname in meta["array_params"]:
        value = entry(f"param:{pname}")
        try:
            params[pname] = np.broadcast_to(value, shape + value.shape[len(shape):])
        except ValueError:
            raise _Damaged(f"is damaged: parameter {pname!r} of shape {value.shape} does "
                           f"not broadcast to the batch shape {shape}") from None
    params.update(meta["params"])
    if set(meta["extra"]) & set(fields):
        raise _Damaged("is damaged: __meta__ 'extra' repeats an array field")
    fields.update(meta["extra"])
    known = {f.name for f in dataclasses.fields(Result)}
    kwargs = {k: v for k, v in fields.items() if k in known}
    kwargs["summary"], kwargs["state"] = {}, {}
    for key in arrays:
        kind, _, name = key.partition(":")
        if kind in ("summary", "state"):
            value = entry(key)
            # A summary is one number per run; a state may have axes of its own.
            if value.shape[:len(shape)] != shape or (kind == "summary"
                                                     and value.shape != shape):
                raise _Damaged(f"is damaged: {kind} {name!r} has shape {value.shape}, "
                               f"the batch has shape {shape}")
            kwargs[kind][name] = value
    return Result(dims=tuple(meta["dims"]), coords=coords, params=params,
                  problem=meta["problem"], **kwargs)


def _check_fields(fields, entry, ndim):
    """The result's arrays: present, of their kinds, shapes consistent."""
    kinds = {"x": "f", "fun": "f", "nit": "iu", "status": "iu", "success": "b",
             "recorded": "iu"}
    for key, kind in kinds.items():
        value = entry(f"field:{key}")
        if value.dtype.kind not in kind:
            raise _Damaged(f"is damaged: field {key!r} has dtype {value.dtype}")
    fun = fields["fun"]
    if fun.ndim != ndim:
        raise _Damaged(f"is damaged: fun has {fun.ndim} axes for {ndim} dims")
    shape = fun.shape
    x = fields["x"]
    if x.shape[:-1] != shape or x.ndim != ndim + 1 or x.shape[-1] < 1:
        raise _Damaged(f"is damaged: x has shape {x.shape}, fun {shape}")
    for key in ("nit", "status", "success"):
        if fields[key].shape != shape:
            raise _Damaged(f"is damaged: {key} has shape {fields[key].shape}, fun {shape}")
    known = np.array(list(Status), dtype=np.int64)
    if not np.all(np.isin(fields["status"], known)):
        raise _Damaged("is damaged: status holds codes that are not a Status")
    recorded = fields["recorded"]
    size = fun.size
    if recorded.ndim != 1 or np.any((recorded < 0) | (recorded >= size)) or \
            np.any(np.diff(recorded) <= 0):
        raise _Damaged("is damaged: recorded is not sorted run indices within the batch")
    paths = [fields.get("path_x"), fields.get("path_fun")]
    if (paths[0] is None) != (paths[1] is None):
        raise _Damaged("is damaged: path_x and path_fun must be saved together")
    if paths[0] is not None:
        px, pf = paths
        if px.dtype.kind != "f" or pf.dtype.kind != "f" or px.ndim != 3 or pf.ndim != 2 \
                or px.shape[0] != recorded.size or px.shape[:2] != pf.shape \
                or px.shape[2] != x.shape[-1]:
            raise _Damaged(f"is damaged: path_x {px.shape} and path_fun {pf.shape} do not "
                           f"fit {recorded.size} recorded runs of a {x.shape[-1]}-D problem")
