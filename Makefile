# dlsuite: the two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Two cores: one pytest worker per core keeps `make test` well under 15 minutes.
TEST_WORKERS ?= 2
# TensorFlow prints its start-up banner from every process; keep test output readable.
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: install demo test test-slow bench clean data

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,faces]'
	touch $(STAMP)

install: $(STAMP)

## The main job: train the default app on bundled real data, evaluate, export, report.
demo: $(STAMP)
	$(BIN)/dlsuite train mlp --run-dir runs/demo/mlp --overwrite

test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -q -m slow

bench: $(STAMP)
	$(BIN)/python -m benchmarks

## Optional real data for the image apps (Debian's Fashion-MNIST, 31 MB).
data:
	apt-get install -y dataset-fashion-mnist

clean:
	rm -rf runs .pytest_cache
