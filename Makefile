# `make demo` and `make test` are the README's two Quick start commands; both create .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint bench golden clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/digest -c config.yaml build

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	sh scripts/ensure-test-tools.sh
	$(BIN)/pytest

# Rewrite the golden HTML/text files after an intended change to templates or rendering.
golden: $(STAMP)
	DIGEST_UPDATE_GOLDEN=1 $(BIN)/pytest tests/test_golden.py tests/test_render_golden.py

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) out .digest build *.egg-info
