"""small-map convolution: what ``dlsuite.layers.SmallMapConv2D``'s matmuls save.

    python -m benchmarks small_map_conv            # ~8 minutes
    python -m benchmarks --quick small_map_conv    # tiny shapes (a smoke run)

Two parts, float32 and bf16 side by side:

- per shape, the kernel gradient alone: TensorFlow's ``Conv2DBackpropFilter``
  (oneDNN) against ``dlsuite.layers.small_map_conv2d.matmul_kernel_gradient`` (one
  im2col matmul), on the last stages of ResNet-50 and VGG-16 at 64x64
  inputs, batch 32: where the layer's 4-position limit comes from; and for
  1x1 stride-1 convolutions also the forward pass and the input gradient,
  oneDNN's convolution ops against one matmul each
  (``dlsuite.layers.small_map_conv2d.pointwise_matmul``);
- the ``cnn`` app's ResNet-50 train step (64x64x3, batch 32, 1000 classes)
  with the matmuls on (the default) and off (the layer with its limit set
  to 0, i.e. ``keras.layers.Conv2D``), alternating over two rounds, each
  the median epoch of one ``fit``.

Ratios are matmul / oneDNN time (below 1: the matmul is faster).
"""

import contextlib
import statistics
import sys

from dlsuite.apps.kits.vision.architectures import build_resnet50
from benchmarks.common import (CpuShare, comparable, median_time, result_name,
                               step_seconds_per_epoch, write_result)
from dlsuite.layers import SmallMapConv2D
from dlsuite.layers.small_map_conv2d import matmul_kernel_gradient, pointwise_matmul

PRECISIONS = ("float32", "mixed_bfloat16")
# name: (batch, input size, C_in, C_out, kernel, stride); output positions in the name.
SHAPES = {
    "resnet50 stage 4, 3x3 512->512, 2x2": (32, 2, 512, 512, 3, 1),
    "resnet50 stage 4, 1x1 2048->512, 2x2": (32, 2, 2048, 512, 1, 1),
    "resnet50 stage 4, 1x1 512->2048, 2x2": (32, 2, 512, 2048, 1, 1),
    "resnet50 stage 4, 1x1 1024->2048 /2, 2x2": (32, 4, 1024, 2048, 1, 2),
    "resnet50 stage 3, 3x3 256->256, 4x4": (32, 4, 256, 256, 3, 1),
    "resnet50 stage 3, 1x1 1024->256, 4x4": (32, 4, 1024, 256, 1, 1),
    "resnet50 stage 3, 1x1 512->1024 /2, 4x4": (32, 8, 512, 1024, 1, 2),
    "vgg16 block 5, 3x3 512->512, 4x4": (32, 4, 512, 512, 3, 1),
    "resnet50 stage 2, 3x3 128->128, 8x8": (32, 8, 128, 128, 3, 1),
}
QUICK_SHAPES = {"3x3 16->16, 2x2": (4, 2, 16, 16, 3, 1), "1x1 16->32, 2x2": (4, 2, 16, 32, 1, 1)}


def kernel_gradient_seconds(spec, precision, repeats):
    """Median seconds of (oneDNN, matmul) kernel gradients for one shape."""
    import tensorflow as tf

    batch, size, in_channels, out_channels, kernel, stride = spec
    dtype = tf.bfloat16 if precision == "mixed_bfloat16" else tf.float32
    out_size = -(-size // stride)
    inputs = tf.cast(tf.random.stateless_normal((batch, size, size, in_channels), (0, 1)), dtype)
    output_gradient = tf.cast(tf.random.stateless_normal(
        (batch, out_size, out_size, out_channels), (0, 2)), dtype)
    shape = (kernel, kernel, in_channels, out_channels)
    padding = "same" if kernel > 1 else "valid"
    onednn = tf.function(lambda: tf.raw_ops.Conv2DBackpropFilter(
        input=inputs, filter_sizes=shape, out_backprop=output_gradient,
        strides=[1, stride, stride, 1], padding=padding.upper()))
    matmul = tf.function(lambda: matmul_kernel_gradient(
        inputs, output_gradient, shape, (stride, stride), padding))
    return (median_time(lambda: onednn().numpy(), repeats=repeats, warmup=3),
            median_time(lambda: matmul().numpy(), repeats=repeats, warmup=3))


def pointwise_seconds(spec, precision, repeats):
    """Median seconds of a 1x1 stride-1 convolution's forward pass and input
    gradient: {"forward": (oneDNN, matmul), "input_gradient": (oneDNN, matmul)}."""
    import tensorflow as tf

    batch, size, in_channels, out_channels = spec[:4]
    dtype = tf.bfloat16 if precision == "mixed_bfloat16" else tf.float32
    inputs = tf.cast(tf.random.stateless_normal((batch, size, size, in_channels), (0, 3)), dtype)
    kernel = tf.cast(tf.random.stateless_normal((1, 1, in_channels, out_channels), (0, 4)), dtype)
    output_gradient = tf.cast(tf.random.stateless_normal(
        (batch, size, size, out_channels), (0, 5)), dtype)
    variants = {
        "forward": (lambda: tf.nn.conv2d(inputs, kernel, 1, "VALID"),
                    lambda: pointwise_matmul(inputs, kernel)),
        "input_gradient": (
            lambda: tf.raw_ops.Conv2DBackpropInput(
                input_sizes=inputs.shape, filter=kernel, out_backprop=output_gradient,
                strides=[1, 1, 1, 1], padding="VALID"),
            lambda: tf.reshape(tf.matmul(tf.reshape(output_gradient, [-1, out_channels]),
                                         tf.reshape(kernel, [in_channels, out_channels]),
                                         transpose_b=True), inputs.shape)),
    }
    return {name: tuple(median_time(lambda f=tf.function(fn): f().numpy(), repeats=repeats,
                                    warmup=3) for fn in pair)
            for name, pair in variants.items()}


@contextlib.contextmanager
def matmul_gradient(enabled):
    """Inside, with ``enabled`` False: every SmallMapConv2D built takes
    keras.layers.Conv2D's gradient (its limit is 0)."""
    original = SmallMapConv2D.__init__

    def never(self, *args, matmul_gradient_max_positions=None, **kwargs):
        original(self, *args, matmul_gradient_max_positions=0, **kwargs)

    if not enabled:
        SmallMapConv2D.__init__ = never
    try:
        yield
    finally:
        SmallMapConv2D.__init__ = original


def compared(label, precision, onednn, matmul):
    """Print one oneDNN-against-matmul timing and return it as a result entry."""
    print(f"  {label:42s} {precision:15s} oneDNN {onednn * 1000:7.2f} ms, matmul "
          f"{matmul * 1000:7.2f} ms: ratio {matmul / onednn:.2f}", flush=True)
    return {"onednn_seconds": onednn, "matmul_seconds": matmul,
            "time_ratio_matmul_over_onednn": matmul / onednn}


def main(argv):
    quick = "--quick" in argv
    shapes = QUICK_SHAPES if quick else SHAPES
    shape, classes, batch = ((32, 32, 3), 10, 4) if quick else ((64, 64, 3), 1000, 32)
    repeats, steps, epochs, rounds = (3, 2, 2, 1) if quick else (20, 5, 4, 2)
    results = {"kernel_gradient": {}, "resnet50_step": {}}
    with CpuShare() as share:
        for name, spec in shapes.items():
            for precision in PRECISIONS:
                entry = compared(name, precision,
                                 *kernel_gradient_seconds(spec, precision, repeats))
                results["kernel_gradient"].setdefault(name, {})[precision] = entry
                if spec[4:] == (1, 1):  # pointwise: forward and input gradient too
                    for part, seconds in pointwise_seconds(spec, precision, repeats).items():
                        entry[part] = compared(f"{name}, {part}", precision, *seconds)
        for precision in PRECISIONS:
            times = {True: [], False: []}
            for round_index in range(rounds):
                for enabled in (True, False) if round_index % 2 == 0 else (False, True):
                    with matmul_gradient(enabled):
                        times[enabled] += step_seconds_per_epoch(
                            lambda: build_resnet50(shape, classes), shape, classes, batch,
                            precision, steps, epochs)
            on, off = statistics.median(times[True]), statistics.median(times[False])
            results["resnet50_step"][precision] = {
                "matmul_step_seconds": times[True], "onednn_step_seconds": times[False],
                "median_matmul": on, "median_onednn": off, "time_ratio_matmul_over_onednn":
                on / off}
            print(f"  resnet50 train step {precision:15s} matmuls {on * 1000:7.1f} ms, "
                  f"oneDNN {off * 1000:7.1f} ms: ratio {on / off:.3f}", flush=True)
    step = results["resnet50_step"]
    speedups = {k: step["float32"][k] / step["mixed_bfloat16"][k]
                for k in ("median_matmul", "median_onednn")}
    print(f"  resnet50 bf16 speed-up: {speedups['median_matmul']:.2f}x with the matmuls, "
          f"{speedups['median_onednn']:.2f}x without; other processes used {share.other:.0%} "
          "of the CPU", flush=True)
    if not comparable(share.other):
        print("  NOT COMPARABLE: the machine was busy; rerun on an idle machine", flush=True)
    write_result(result_name("small_map_conv", quick),
                 {**results, "bf16_speedup": speedups, "other_cpu_share": share.other,
                  "comparable": comparable(share.other), "quick": quick})
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
