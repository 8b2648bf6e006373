"""Where a train step's time goes: TensorFlow's profiler, summed by op type.

    python -m benchmarks.profile_ops resnet50 --precision float32 --size 64 --batch 32
    python -m benchmarks.profile_ops vgg16 --precision mixed_bfloat16
    python -m benchmarks.profile_ops resnet50 --reference   # keras.applications

Traces ``--steps`` train steps of a ``cnn`` architecture (or, with
``--reference``, the ``keras.applications`` model of the same family) with
``tf.profiler.experimental``, reads the trace (``.xplane.pb``) back with the
XSpace protobuf TensorFlow ships, and prints each op type's share of the
summed kernel time and its milliseconds per step. Call-like ops
(``PartitionedCall``, ``While``, ...) are left out: their time is the time of
the kernels inside them, which are counted. The findings are written up in
``benchmarks/README.md``.
"""

import argparse
import collections
import glob
import re
import tempfile
import time

import keras
import tensorflow as tf

from benchmarks.common import compile_for_timing, repeated_batch

# Kernel events are named "<op name>:<OpType>".
_KERNEL = re.compile(r"^[^:]+:(_?[A-Z][A-Za-z0-9_]*)$")
_CONTAINERS = {"PartitionedCall", "StatefulPartitionedCall", "While", "If", "StatelessIf",
               "StatelessWhile", "Case", "StatelessCase"}


def op_seconds_by_type(logdir):
    """Seconds of kernel time per op type in the trace under ``logdir``."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    paths = glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)
    if not paths:
        raise FileNotFoundError(f"no .xplane.pb trace under {logdir}")
    space = xplane_pb2.XSpace()
    with open(paths[0], "rb") as handle:
        space.ParseFromString(handle.read())
    totals = collections.Counter()
    for plane in space.planes:
        names = {key: meta.name for key, meta in plane.event_metadata.items()}
        for line in plane.lines:
            for event in line.events:
                match = _KERNEL.match(names.get(event.metadata_id, ""))
                if match and match.group(1) not in _CONTAINERS:
                    totals[match.group(1)] += event.duration_ps * 1e-12
    return totals


def profile_train_steps(model, data, steps):
    """Per-op-type kernel seconds of ``steps`` steps of ``model.fit`` on
    ``data`` (compiled as the speed benchmarks do), traced after a warm-up,
    and the wall seconds of those steps."""
    compile_for_timing(model)
    model.fit(data, steps_per_epoch=2, epochs=1, shuffle=False, verbose=0)  # trace, warm up
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        start = time.perf_counter()
        model.fit(data, steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0)
        wall = time.perf_counter() - start
        tf.profiler.experimental.stop()
        return op_seconds_by_type(logdir), wall


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("arch")
    parser.add_argument("--precision", default="float32",
                        choices=["float32", "mixed_bfloat16", "mixed_float16"])
    parser.add_argument("--size", type=int, default=64, help="input height and width")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--reference", action="store_true",
                        help="profile keras.applications' model of the family instead")
    args = parser.parse_args(argv)

    from dlsuite.apps.kits.vision.architectures import build_model

    keras.config.set_dtype_policy(args.precision)
    shape = (args.size, args.size, 3)
    if args.reference:
        applications = {"resnet50": keras.applications.ResNet50, "resnet101":
                        keras.applications.ResNet101, "resnet152": keras.applications.ResNet152,
                        "vgg16": keras.applications.VGG16, "vgg19": keras.applications.VGG19}
        if args.arch not in applications:
            parser.error(f"--reference has keras.applications models for "
                         f"{', '.join(applications)}, not {args.arch!r}")
        model = applications[args.arch](weights=None, input_shape=shape, classes=args.classes)
    else:
        model = build_model(args.arch, shape, args.classes)
    data = repeated_batch(shape, args.classes, args.batch)
    totals, wall = profile_train_steps(model, data, args.steps)
    everything = sum(totals.values())
    print(f"{args.arch}{' (keras.applications)' if args.reference else ''} {args.precision} "
          f"{args.size}x{args.size} batch {args.batch}: {1000 * wall / args.steps:.0f} ms per "
          f"step (traced), {1000 * everything / args.steps:.0f} ms of kernel time summed "
          f"over threads")
    for op, seconds in totals.most_common(args.top):
        print(f"  {op:32s} {seconds / everything:6.1%}  {1000 * seconds / args.steps:8.1f} ms/step")


if __name__ == "__main__":
    main()
