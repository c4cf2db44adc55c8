"""report.py turns a benchmark JSON into tables, sentences and figures that agree."""

import json

import report


def _bench(group, impl, median, runs=100, updates=10, **extra):
    info = dict(dict(impl=impl, runs=runs, updates=updates, workload_runs=100,
                     epochs=updates, unit="1 update", workload_note="", note="", threads=2),
                **extra)
    return dict(group=group, extra_info=info, stats=dict(median=median, rounds=3))


def _write(tmp_path, benchmarks, failures=()):
    path = tmp_path / "run.json"
    path.write_text(json.dumps(dict(benchmarks=benchmarks)))
    if failures:
        (tmp_path / "run.json.failures").write_text(
            "".join(json.dumps(f) + "\n" for f in failures))
    return str(path)


def test_ratios_sentences_and_failures(tmp_path):
    # ns/ru = median * 1e9 / (runs * updates) = median * 1e6 here.
    path = _write(tmp_path, [
        _bench("quartic", "fastgd", 1e-6),                    # 1 ns/ru
        _bench("quartic", "jax", 0.5e-6),                     # JAX 2x faster
        _bench("quartic", "numpy", 4e-6),
        _bench("quartic", "torch", 3e-6),
        _bench("quartic", "torch-compile", 6e-6),             # slower than eager
        _bench("quartic", "tutorial", 5e-6, runs=10),         # a slice: 50 ns/ru
        _bench("ftol", "fastgd", 1e-6),
        _bench("ftol", "jax", 8e-6, note="fori chunks"),
        _bench("ftol", "jax-while", 3e-6, note="while chunks"),
        _bench("ftol", "numpy", 2e-6),
    ], failures=[dict(workload="ftol", impl="torch-compile", error="BackendCompilerFailed: x")])
    table, failures = report.load(path)
    fig = report.figures(table, failures, None, "smoke", "python benchmarks/report.py", None)
    quartic, ftol = fig["workloads"]["quartic"], fig["workloads"]["ftol"]
    assert quartic["speedup_of_fastgd"]["jax"] == 0.5
    assert quartic["speedup_of_fastgd"]["tutorial"] == 50.0
    assert quartic["compile_slower_than_eager"]
    # The faster JAX strategy is kept, and the slower one's figure is kept beside it.
    assert ftol["speedup_of_fastgd"]["jax"] == 3.0
    assert ftol["ns_ru"]["jax"]["other_strategy_ns_ru"] == 8.0
    assert ftol["failed"] == {"torch-compile": "BackendCompilerFailed: x"}
    missed = {(m["workload"], m["peer"]) for m in fig["targets_missed"]}
    assert ("quartic", "jax") in missed and ("quartic", "tutorial") in missed
    assert ("ftol", "jax") not in missed            # 3x against a target of 2x

    lines = report.summary_lines(fig)
    text = "\n".join(lines)
    assert "JAX is faster than fastgd: 2.00x on quartic, GD" in text
    assert "torch.compile is slower than eager PyTorch on quartic, GD" in text
    assert "torch.compile fails on ftol-stopped sweep (BackendCompilerFailed: x)" in text
    md = report.markdown(table, failures, fig, None, "python benchmarks/report.py")
    assert "| 2. quartic, GD | 100 x 10 | 50.0 * |" in md
    assert "fails" in md and "6.00 (slower)" in md


def test_readme_section_replaced_between_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{report.README_START}\nold\n{report.README_END}\nafter\n")
    report.write_readme(f"{report.README_START}\nnew\n{report.README_END}", str(readme))
    assert readme.read_text() == (f"intro\n{report.README_START}\nnew\n{report.README_END}"
                                  "\nafter\n")
