"""Run the benchmarks: ``python -m benchmarks [--quick] [name ...]``."""

import importlib
import pkgutil
import sys

import benchmarks


def main(argv):
    quick = "--quick" in argv
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
        module.main(["--quick"] if quick else [])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
