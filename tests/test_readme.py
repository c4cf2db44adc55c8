"""The README's Python examples run as written, in order, as one session."""

import re
from pathlib import Path

import matplotlib

README = Path(__file__).parents[1] / "README.md"


def test_readme_examples_run():
    matplotlib.use("Agg")
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 4
    namespace = {}
    for block in blocks:
        if "LocalCluster" in block:
            continue  # the Dask example is exercised by tests/test_scale.py
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["res"].dims == ("x0", "lr", "beta1")
    assert namespace["fit"].n_data == 100
    # "Answers from a grid": Himmelblau's four minima, and the refinement's count.
    assert len(namespace["m"]) == 4 and namespace["hb"].dims == ("x", "y", "lr")
    assert namespace["ref"].runs == 25_392
    # "Continuation": the continued sweep is the 1000-epoch sweep, bit for bit.
    once = namespace["fg"].sweep(namespace["fg"].problems.quartic,
                                 x0=namespace["np"].linspace(-3, 3, 400),
                                 lr=namespace["np"].geomspace(1e-3, 0.2, 300), epochs=1000,
                                 optimizer="adam")
    assert (namespace["more"].x == once.x).all() and (namespace["more"].nit == 1000).all()
