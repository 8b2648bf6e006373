"""Side-by-side benchmarks: ``python -m benchmarks [name ...]`` (``make bench``).

Each module ``benchmarks/<name>_bench.py`` has ``main(argv) -> dict`` and
prints ratios measured in one process, medians of repeats, and writes
``benchmarks/results/<name>.json``.
"""
