"""The charlm model written plainly in PyTorch, for ``charlm_bench``'s speed row.

``nn.Embedding -> nn.LSTM(num_layers=depth, batch_first=True) -> nn.Linear``
with the sizes of ``dlsuite.apps.charlm.model.build_language_model`` (same vocabulary,
embedding, units, depth, so the same parameter count up to PyTorch's second
LSTM bias), Adam and cross-entropy over every position: the train step of
``model.fit`` on the same batch, sequence length and units, float32, eager.
Needs the ``bench`` extra (torch 2.13.0 CPU); run in a child process through
``benchmarks.torch_child`` (in one process with TensorFlow, PyTorch's thread
pools fight TensorFlow's). With ``"measure": "lstm_stack"`` in the settings
it times the ``nn.LSTM`` stack alone instead (``charlm_lstm_variants``).
"""

import statistics
import time

import torch
from torch import nn


class CharLSTM(nn.Module):
    def __init__(self, vocabulary_size, embedding_dim, units, depth):
        super().__init__()
        self.embedding = nn.Embedding(vocabulary_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, units, num_layers=depth, batch_first=True)
        self.logits = nn.Linear(units, vocabulary_size)

    def forward(self, ids):
        outputs, _ = self.lstm(self.embedding(ids))
        return self.logits(outputs)


def characters_per_second(settings, compiled, bfloat16, seed=0):
    """Median characters per second over ``repeats`` timed runs of ``steps``
    train steps on one repeated random batch, after ``warmup`` steps."""
    torch.manual_seed(seed)
    vocabulary, batch, length = settings["vocabulary"], settings["batch"], settings["length"]
    model = CharLSTM(vocabulary, settings["embedding_dim"], settings["units"], settings["depth"])
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    run = torch.compile(model) if compiled else model
    ids = torch.randint(0, vocabulary, (batch, length))
    targets = torch.randint(0, vocabulary, (batch, length))

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16):
            logits = run(ids)
        loss = loss_fn(logits.float().reshape(-1, vocabulary), targets.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    for _ in range(settings["warmup"]):
        step()
    rates = []
    for _ in range(settings["repeats"]):
        start = time.perf_counter()
        for _ in range(settings["steps"]):
            loss = step()
        float(loss.detach())
        rates.append(settings["steps"] * batch * length / (time.perf_counter() - start))
    return {"characters_per_second": statistics.median(rates), "rates": rates,
            "parameters": sum(p.numel() for p in model.parameters())}


def lstm_stack_seconds(settings, compiled, bfloat16, seed=0):
    """Median seconds of forward and backward of ``mean(h ** 2)`` through the
    ``nn.LSTM`` stack alone (``charlm_lstm_variants``' step), float32, eager."""
    if compiled or bfloat16:
        raise ValueError("the LSTM stack is timed eager, in float32")
    torch.manual_seed(seed)
    lstm = nn.LSTM(settings["inputs"], settings["units"], num_layers=settings["depth"],
                   batch_first=True)
    inputs = torch.randn(settings["batch"], settings["length"], settings["inputs"])

    def step():
        lstm.zero_grad(set_to_none=True)
        outputs, _ = lstm(inputs)
        outputs.square().mean().backward()

    for _ in range(settings["warmup"]):
        step()
    seconds = []
    for _ in range(settings["repeats"]):
        start = time.perf_counter()
        step()
        step()
        seconds.append((time.perf_counter() - start) / 2)
    return {"seconds_per_step": statistics.median(seconds), "seconds": seconds}


MEASURES = {"train_step": characters_per_second, "lstm_stack": lstm_stack_seconds}

if __name__ == "__main__":  # Run by charlm_bench through benchmarks.torch_child.
    import json
    import sys

    from benchmarks import torch_child

    torch_child.serve(sys.argv[1:], MEASURES[json.loads(sys.argv[1]).get("measure", "train_step")])
