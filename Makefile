# nri — make help lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export HYDRA_FULL_ERROR ?= 1
export PYTHONUNBUFFERED := 1
# Torch is pinned here (not in pyproject) so that this machine takes its local CPU wheel; GPU users
# install their own torch build first and then `pip install -e .`.
TORCH_PIN ?= torch==2.13.0
DATA ?= data
PROFILE ?= quick
TB_HOST ?= localhost
TB_PORT ?= 6006

.DEFAULT_GOAL := help
TABLE_DATASETS ?= springs charged kuramoto
.PHONY: help install test test-fast lint data data-10 quickstart springs-fast springs-100 train sweep bench bench-data \
	reproduce-table1 reproduce-table2 tables-quick real-data pretrained tensorboard clean

help: ## list the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-20s\033[0m %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml setup.py
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH_PIN)"
	$(PIP) install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed ## create .venv and install nri with its dev tools

quickstart: install ## small springs job end to end: generate, train, print the test edge accuracy
	$(PY) -m nri.generate dataset=springs dataset.num_train=5000 dataset.num_valid=1000 dataset.num_test=1000 paths.data_dir=$(DATA)/quickstart
	$(PY) -m nri.train experiment=quickstart paths.data_dir=$(DATA)/quickstart

test: install ## the whole test suite (slow tests included; what CI runs)
	$(PY) -m pytest -q

test-fast: install ## tests without the slow ones (the edit loop)
	$(PY) -m pytest -q -m "not slow"

lint: install ## ruff
	$(VENV)/bin/ruff check nri tests scripts

data: install ## simulate springs5, charged5, kuramoto5 (50k/10k/10k each) into data/ (or NRI_DATA_DIR)
	$(PY) -m nri.generate -m dataset=springs,charged,kuramoto

data-10: install ## the same with 10 objects
	$(PY) -m nri.generate -m dataset=springs,charged,kuramoto dataset.num_atoms=10

real-data: install ## fetch (and check) the motion-capture and basketball files, then preprocess them
	$(PY) -m nri.download dataset=motion
	$(PY) -m nri.download dataset=sports
	$(PY) -m nri.generate -m dataset=motion,sports

pretrained: install ## retrain the shipped model nri/pretrained/springs5.ckpt (5k simulations, under 10 min on one thread)
	$(PY) scripts/train_pretrained.py springs5

springs-fast: install ## springs5 with the CPU-tuned settings: full dataset, 12 minutes of training, then test
	$(PY) -m nri.generate dataset=springs
	$(PY) -m nri.train experiment=springs_fast

springs-100: install ## springs with 100 objects on a sparse graph, k = 20 candidate edges: data, training, test
	$(PY) -m nri.generate dataset=springs_100
	$(PY) -m nri.train experiment=springs_100

reproduce-table1: install ## Table 1 (edge accuracy) -> outputs/tables/table1.md; PROFILE=quick (CPU) | paper (GPU)
	$(PY) scripts/table_jobs.py --profile $(PROFILE) $(addprefix table1_,$(TABLE_DATASETS)) $(if $(ARGS),-- $(ARGS))
	$(PY) scripts/make_tables.py --profile $(PROFILE)

reproduce-table2: install ## Table 2 (MSE at 1/10/20 steps) -> outputs/tables/table2.md; same options
	$(PY) scripts/table_jobs.py --profile $(PROFILE) $(addprefix table2_,$(TABLE_DATASETS)) $(if $(ARGS),-- $(ARGS))
	$(PY) scripts/make_tables.py --profile $(PROFILE)

tables-quick: install ## the README's quick tables: Table 1 (5 objects) + Table 2 (springs), two 1-thread jobs at a time
	$(PY) scripts/table_jobs.py --profile quick --parallel 2 table1_springs table2_springs table1_charged table1_kuramoto -- threads=1
	$(PY) scripts/make_tables.py --profile quick

train: install ## train with the defaults (add ARGS="encoder=cnn decoder=rnn ...")
	$(PY) -m nri.train $(ARGS)

sweep: install ## an example Hydra multirun sweep (experiment=sweep_example)
	$(PY) -m nri.train -m experiment=sweep_example $(ARGS)

bench: install ## ORIGINAL=<clone of ethanfetaya/NRI>: per-epoch time and peak RSS next to the original code (no ORIGINAL: nri's step throughput)
	$(if $(ORIGINAL),$(PY) scripts/bench_train.py --original $(ORIGINAL),$(PY) scripts/bench_train.py --repeats 3 --steps 10) $(ARGS)

bench-data: install ## data generation speed and memory
	$(PY) scripts/bench_data.py $(ARGS)

tensorboard: install ## serve the TensorBoard logs of all runs on localhost (TB_HOST=0.0.0.0 for every interface)
	$(VENV)/bin/tensorboard --logdir outputs --host $(TB_HOST) --port $(TB_PORT)

clean: ## remove outputs and caches (keeps data/ and .venv)
	rm -rf outputs multirun lightning_logs .pytest_cache .ruff_cache build
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
