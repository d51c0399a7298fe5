# `make repro` and `make test` set everything up themselves: the venv, the pinned packages
# and the WordNet data for METEOR. Nothing is installed by hand.
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup repro test bench clean

setup: $(VENV)/.installed $(VENV)/.wordnet $(VENV)/.plots

$(VENV)/.installed: requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

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

test: setup
	$(PY) -m pytest -q tests

bench: setup
	$(PY) bench/run.py

clean:
	rm -rf $(VENV)
