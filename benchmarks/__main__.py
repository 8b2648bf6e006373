"""Run the benchmarks: ``python -m benchmarks [--quick] [--only=RUN,...] [name ...]``.

Options (``--quick``, ``--only=...``) are passed to every benchmark named;
``--only`` picks runs inside one benchmark (each lists its run names).
"""

import importlib
import pkgutil
import sys

import benchmarks


def main(argv):
    wanted = [a for a in argv if not a.startswith("--")]
    names = sorted(m.name.removesuffix("_bench") for m in pkgutil.iter_modules(benchmarks.__path__)
                   if m.name.endswith("_bench"))
    unknown = [n for n in wanted if n not in names]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; valid: {', '.join(names)}", file=sys.stderr)
        return 2
    for name in wanted or names:
        print(f"=== benchmark {name}", flush=True)
        module = importlib.import_module(f"benchmarks.{name}_bench")
        module.main([a for a in argv if a.startswith("--")])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
