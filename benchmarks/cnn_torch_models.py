"""Hand-written PyTorch ResNet-50 and VGG-16, the references of ``cnn_speed_bench``.

ResNet-50 is the same network as ``dlsuite.apps.kits.vision.architectures.build_resnet50`` and
``keras.applications.ResNet50``: bottleneck blocks with the stride in the
first 1x1 convolution (the paper's and Keras's "v1"), convolutions with bias,
batch norm with epsilon 1.001e-5 and our momentum 0.9 (PyTorch's 0.1), so
the parameter count is the same (25,636,712 at 224x224 with 1000 classes)
and so is the work per step. VGG-16 is ``build_vgg16`` /
``keras.applications.VGG16`` (138,357,544 parameters at 224x224). Both run
in channels-last memory format, the layout of the Keras models and
PyTorch's fast path on CPUs. Needs the ``bench`` extra (``pip install -e
'.[bench]'``, torch 2.13.0 CPU).
"""

import statistics
import time

import torch
from torch import nn

EPSILON = 1.001e-5
MOMENTUM = 0.1  # PyTorch's momentum is 1 - Keras's (the vision kit's architectures: 0.9).


def _convolution_batch_norm(in_channels, out_channels, kernel_size, stride=1):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                  padding=kernel_size // 2, bias=True),
        nn.BatchNorm2d(out_channels, eps=EPSILON, momentum=MOMENTUM),
    )


class Bottleneck(nn.Module):
    """1x1 (stride s) -> 3x3 -> 1x1 (x4), projection shortcut where shapes change."""

    def __init__(self, in_channels, filters, stride):
        super().__init__()
        out_channels = 4 * filters
        self.reduce = _convolution_batch_norm(in_channels, filters, 1, stride)
        self.spatial = _convolution_batch_norm(filters, filters, 3)
        self.expand = _convolution_batch_norm(filters, out_channels, 1)
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = _convolution_batch_norm(in_channels, out_channels, 1, stride)

    def forward(self, x):
        y = torch.relu(self.reduce(x))
        y = torch.relu(self.spatial(y))
        y = self.expand(y)
        shortcut = x if self.shortcut is None else self.shortcut(x)
        return torch.relu(y + shortcut)


class ResNet50(nn.Module):
    def __init__(self, num_classes, in_channels=3):
        super().__init__()
        self.stem = _convolution_batch_norm(in_channels, 64, 7, stride=2)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        blocks, channels = [], 64
        for stage, (count, filters) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512))):
            for index in range(count):
                stride = 2 if stage > 0 and index == 0 else 1
                blocks.append(Bottleneck(channels, filters, stride))
                channels = 4 * filters
        self.blocks = nn.Sequential(*blocks)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x):
        x = self.pool(torch.relu(self.stem(x)))
        x = self.blocks(x)
        return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class VGG16(nn.Module):
    """``dlsuite.apps.kits.vision.architectures.build_vgg16`` / ``keras.applications.VGG16``: five
    blocks of 3x3 "same" ReLU convolutions with 2x2 max pooling, two
    4096-unit ReLU dense layers (no dropout, as ``cnn_speed`` builds ours)
    and the classifier; flattened channels-last, as Keras flattens."""

    def __init__(self, num_classes, in_channels=3, input_size=64):
        super().__init__()
        layers, channels = [], in_channels
        for count, filters in zip((2, 2, 3, 3, 3), (64, 128, 256, 512, 512)):
            for _ in range(count):
                layers += [nn.Conv2d(channels, filters, 3, padding=1), nn.ReLU()]
                channels = filters
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        flat = channels * (input_size // 32) ** 2
        self.classifier = nn.Sequential(nn.Linear(flat, 4096), nn.ReLU(), nn.Linear(4096, 4096),
                                        nn.ReLU(), nn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x).permute(0, 2, 3, 1), 1))


def count_parameters(model):
    """Trainable parameters plus batch-norm running statistics (as Keras counts)."""
    buffers = sum(b.numel() for name, b in model.named_buffers() if "running" in name)
    return sum(p.numel() for p in model.parameters()) + buffers


def time_train_steps(input_shape, num_classes, batch_size, steps, repeats, compiled=False,
                     bfloat16=False, seed=0, family="resnet50"):
    """Median seconds per train step (SGD, cross-entropy), like the Keras side.

    Each repeat times ``steps`` steps; one warm-up repeat (and the
    ``torch.compile`` compilation) runs first and is not counted.
    """
    torch.manual_seed(seed)
    height, width, channels = input_shape
    model = (ResNet50(num_classes, channels) if family == "resnet50"
             else VGG16(num_classes, channels, height)).to(memory_format=torch.channels_last)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    images = torch.rand(batch_size, channels, height, width).to(
        memory_format=torch.channels_last)
    labels = torch.randint(0, num_classes, (batch_size,))
    forward = torch.compile(model) if compiled else model

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16):
            loss = loss_fn(forward(images), labels)
        loss.backward()
        optimizer.step()
        return loss

    start = time.perf_counter()
    for _ in range(steps):
        step()
    warmup_seconds = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            loss = step()
        float(loss.detach())
        times.append((time.perf_counter() - start) / steps)
    return statistics.median(times), warmup_seconds


def measure(settings, compiled, bfloat16):
    seconds, warmup = time_train_steps(
        tuple(settings["input_shape"]), settings["classes"], settings["batch"],
        settings["steps"], settings["repeats"], compiled=compiled, bfloat16=bfloat16,
        family=settings.get("family", "resnet50"))
    return {"step_seconds": seconds, "warmup_seconds": warmup}


if __name__ == "__main__":  # Run by cnn_speed_bench through benchmarks.torch_child.
    import sys

    from benchmarks import torch_child

    torch_child.serve(sys.argv[1:], measure)
