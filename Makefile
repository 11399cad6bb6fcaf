# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
QUESTION ?= 谁获得了岗位标兵？

.PHONY: install demo test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# CPU torch first, from the local wheel; otherwise pip pulls CUDA builds.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/newsqa ask "$(QUESTION)"

test: install
	$(BIN)/python -m pytest -q -rs

bench: install
	$(BIN)/python bench/speed.py

clean:
	rm -rf .newsqa .pytest_cache
