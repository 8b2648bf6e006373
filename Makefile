# dlsuite: the two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Two cores: one pytest worker per core keeps `make test` well under 15 minutes.
TEST_WORKERS ?= 2
# TensorFlow prints its start-up banner from every process; keep test output readable.
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: install demo test test-slow bench clean data bench-ultralytics-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## The main job: train the default app on bundled real data, evaluate, export, report.
demo: $(STAMP)
	$(BIN)/dlsuite train mlp --run-dir runs/demo/mlp --overwrite

test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -q -m slow

bench: $(STAMP) bench-ultralytics-venv
	$(BIN)/python -m benchmarks

## The yolo benchmark's peer, in its OWN environment (never the project's):
## torch and torchvision (CUDA builds, run on the CPU) and ultralytics.
ULTRALYTICS_VENV ?= .venv-ultralytics
bench-ultralytics-venv: $(ULTRALYTICS_VENV)/.installed
$(ULTRALYTICS_VENV)/.installed:
	test -x $(ULTRALYTICS_VENV)/bin/python || $(PYTHON) -m venv $(ULTRALYTICS_VENV)
	$(ULTRALYTICS_VENV)/bin/python -m pip install --quiet 'torch==2.14.1' 'torchvision==0.29.1' 'ultralytics~=8.4.0'
	touch $@

## Optional real data for the image apps (Debian's Fashion-MNIST, 31 MB).
data:
	apt-get install -y dataset-fashion-mnist

clean:
	rm -rf runs .pytest_cache
