# Every target works on a fresh machine: `make venv` creates or updates .venv (idempotent).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The data folder (docs/benchmark.md); defaults to a `shared/data` folder beside the checkout,
# except under CI, where .ci/run must set it: a missing one then stops `make test` at once
# (tests/conftest.py) rather than being found by chance.
IN_CI := $(filter-out 0 false False FALSE,$(CI))
OPTIML_DATA_DIR ?= $(if $(IN_CI),,$(shell [ -d ../shared/data ] && cd ../shared/data && pwd))
DEMO_DIR ?= runs/demo
CPU_MESH := XLA_FLAGS=--xla_force_host_platform_device_count=8 JAX_PLATFORMS=cpu

.PHONY: venv test demo bench

venv: $(STAMP)

$(STAMP): setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU build of torch first: an unpinned torch would pull several GB of CUDA wheels.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test,convert]'
	touch $@

test: venv
	OPTIML_DATA_DIR=$(OPTIML_DATA_DIR) $(BIN)/python -m pytest

# Tiny OPT on an 8-device CPU mesh, the real data of every local benchmark: OPT-IML training from scratch, then the
# three-level evaluation report on the dev split (every saved step) and the test split.
demo: venv
	@test -n "$(OPTIML_DATA_DIR)" || { echo "Set OPTIML_DATA_DIR to the data folder (docs/benchmark.md)."; exit 1; }
	rm -rf $(DEMO_DIR)
	OPTIML_DATA_DIR=$(OPTIML_DATA_DIR) $(CPU_MESH) $(BIN)/python -m optiml_jax.train \
	  --gin_file=gin/native/opt_iml_tiny.gin --gin.MODEL_DIR=\"$(DEMO_DIR)\"
	OPTIML_DATA_DIR=$(OPTIML_DATA_DIR) $(CPU_MESH) $(BIN)/python -m optiml_jax.eval \
	  --checkpoint $(DEMO_DIR) --all_steps --split dev --shots 0,5 --max_examples_per_task 20 \
	  --out $(DEMO_DIR)/eval_dev
	OPTIML_DATA_DIR=$(OPTIML_DATA_DIR) $(CPU_MESH) $(BIN)/python -m optiml_jax.eval \
	  --checkpoint $(DEMO_DIR) --split test --shots 0,5 --max_examples_per_task 20 \
	  --out $(DEMO_DIR)/eval_test
	@echo "Reports: $(DEMO_DIR)/eval_dev/report.md, $(DEMO_DIR)/eval_test/report.md (plots beside them)"

bench: venv
	$(BIN)/python benchmarks/model_vs_hf.py
	OPTIML_DATA_DIR=$(OPTIML_DATA_DIR) $(BIN)/python benchmarks/train_throughput.py
