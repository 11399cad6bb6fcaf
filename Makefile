# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
QUESTION ?= 谁获得了岗位标兵？

EMULATOR := tests/telegram_emulator
EMULATOR_STAMP := $(EMULATOR)/node_modules/.installed-stamp

.PHONY: install demo test bench bot milvus clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# CPU torch first, from the local wheel; otherwise pip pulls CUDA builds.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The local Telegram Bot API emulator the bot tests talk to (npm, pinned by package-lock.json).
$(EMULATOR_STAMP): $(EMULATOR)/package.json $(EMULATOR)/package-lock.json
	cd $(EMULATOR) && npm ci --no-audit --no-fund --loglevel=error
	touch $(EMULATOR_STAMP)

demo: install
	$(BIN)/newsqa ask "$(QUESTION)"

test: install $(EMULATOR_STAMP)
	$(BIN)/python -m pytest -q -rs --durations=15

# Needs TELEGRAM_BOT_TOKEN (from @BotFather); see README "Telegram bot".
bot: install
	$(BIN)/newsqa bot

# A local Milvus server for `[index] backend = "milvus"` (Ctrl-C stops it).
milvus: install
	$(BIN)/newsqa milvus up

# The headline benchmarks, one table (about 15 min on 2 cores; BENCH_ARGS=--quick for a fast run).
bench: install
	$(BIN)/python bench/headline.py $(BENCH_ARGS)

clean:
	rm -rf .newsqa .pytest_cache
