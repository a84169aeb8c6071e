"""echoray benchmarks: one runner, JSON results, plots, and the generated BENCHMARKS.md.

Run ``python -m benchmarks list`` to see what is registered and
``python -m benchmarks run [NAME ...] [--quick] [--out results/]`` to measure. The contract a
benchmark module follows is described in :mod:`benchmarks.runner`. Nothing heavy is imported
here: each benchmark imports its own libraries inside its ``run``.
"""
