"""A hand-written PyTorch DCGAN, for scale beside ``gan_speed_bench``.

The same networks as ``dlsuite.apps.gan.models.build_generator`` /
``build_discriminator`` with batch norm and dropout 0.3 (so the parameter
count is the same), and the step of PyTorch's own DCGAN example: one fake
batch per step; the discriminator trains on it detached plus the real batch,
then the generator trains through the updated discriminator. Two Adam
optimizers (2e-4, beta_1 0.5), BCE from logits, channels-last memory. Keras's
"same" padding for a 4x4 stride-2 (transposed) convolution is padding 1 here.
Needs the ``bench`` extra (torch 2.13.0 CPU); run in a child process through
``benchmarks.torch_child``.
"""

import statistics
import time

import torch
from torch import nn

KERAS_BN = {"eps": 1e-3, "momentum": 0.01}  # Keras's BatchNormalization defaults.


class Generator(nn.Module):
    def __init__(self, latent_dim, image_size, channels, filters, steps):
        super().__init__()
        self.start = image_size // 2**steps
        self.width0 = filters * 2 ** (steps - 1)
        self.project = nn.Linear(latent_dim, self.start**2 * self.width0, bias=False)
        layers = []
        width = self.width0
        for index in range(steps):
            last = index == steps - 1
            out = channels if last else self.width0 // 2 ** (index + 1)
            layers += [nn.BatchNorm2d(width, **KERAS_BN), nn.ReLU(),
                       nn.ConvTranspose2d(width, out, 4, stride=2, padding=1, bias=last)]
            width = out
        self.body = nn.Sequential(*layers, nn.Tanh())

    def forward(self, noise):
        # Keras reshapes (start, start, width) channels-last; the same values here.
        x = self.project(noise).view(-1, self.start, self.start, self.width0)
        x = x.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
        return self.body(x)


class Discriminator(nn.Module):
    def __init__(self, image_size, channels, filters, steps, dropout=0.3):
        super().__init__()
        layers, width = [], channels
        for index in range(steps):
            layers += [nn.Conv2d(width, filters * 2**index, 4, stride=2, padding=1),
                       nn.Dropout(dropout), nn.LeakyReLU(0.2)]
            width = filters * 2**index
        self.body = nn.Sequential(*layers)
        self.logit = nn.Linear(width * (image_size // 2**steps) ** 2, 1)

    def forward(self, images):
        x = self.body(images)
        return self.logit(x.permute(0, 2, 3, 1).flatten(1))


def epoch_seconds(settings, compiled, bfloat16, seed=0):
    """Median epoch time over ``settings['epochs']`` epochs after one warm-up epoch."""
    torch.manual_seed(seed)
    size, channels = settings["image_size"], settings["channels"]
    latent, filters, steps = settings["latent"], settings["filters"], settings["steps"]
    generator = Generator(latent, size, channels, filters, steps).to(
        memory_format=torch.channels_last)
    discriminator = Discriminator(size, channels, filters, steps).to(
        memory_format=torch.channels_last)
    optimizers = [torch.optim.Adam(net.parameters(), lr=2e-4, betas=(0.5, 0.999))
                  for net in (discriminator, generator)]
    loss_fn = nn.BCEWithLogitsLoss()
    run_generator = torch.compile(generator) if compiled else generator
    run_discriminator = torch.compile(discriminator) if compiled else discriminator
    batch = settings["batch"]
    images = (torch.rand(settings["examples"], channels, size, size) * 2 - 1).to(
        memory_format=torch.channels_last)
    real_labels, fake_labels = torch.ones(batch, 1), torch.zeros(batch, 1)

    def step(real):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16):
            fake = run_generator(torch.randn(real.shape[0], latent))
            d_loss = (loss_fn(run_discriminator(real).float(), real_labels)
                      + loss_fn(run_discriminator(fake.detach()).float(), fake_labels))
        optimizers[0].zero_grad(set_to_none=True)
        d_loss.backward()
        optimizers[0].step()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16):
            g_loss = loss_fn(run_discriminator(fake).float(), real_labels)
        optimizers[1].zero_grad(set_to_none=True)
        g_loss.backward()
        optimizers[1].step()
        return g_loss

    times = []
    for _ in range(settings["epochs"] + 1):  # The first (warm-up, compiling) is dropped.
        start = time.perf_counter()
        for begin in range(0, images.shape[0] - batch + 1, batch):
            loss = step(images[begin:begin + batch])
        float(loss.detach())
        times.append(time.perf_counter() - start)
    return {"epoch_seconds": times[1:], "median_epoch_seconds": statistics.median(times[1:]),
            "warmup_seconds": times[0]}


if __name__ == "__main__":  # Run by gan_speed_bench through benchmarks.torch_child.
    import sys

    from benchmarks import torch_child

    torch_child.serve(sys.argv[1:], epoch_seconds)
