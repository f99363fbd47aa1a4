# newsbot: `make ask Q="..."` answers from examples/articles; `make test` runs the test suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
NEWSBOT := $(BIN)/newsbot
Q ?= When was the ambassador appointed?
SET ?= ../shared/eval/dev

.PHONY: setup ask test test-fast eval eval-baseline bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements.lock -e '.[dev,llm,baseline]'
	touch $@

ask: setup
	@$(NEWSBOT) stats --json | $(BIN)/python -c 'import json,sys; sys.exit(json.load(sys.stdin)["articles"] > 0)' \
		&& $(NEWSBOT) ingest examples/articles || true
	@$(NEWSBOT) ask "$(Q)"

test: setup
	bash scripts/with-chroma-server.sh $(BIN)/pytest -q

test-fast: setup
	$(BIN)/pytest -q -m "not slow and not server"

eval: setup
	$(NEWSBOT) eval $(SET) --out runs/$(notdir $(SET))

eval-baseline: setup
	$(NEWSBOT) eval $(SET) --baseline langchain-tutorial --out runs/$(notdir $(SET))-tutorial

bench: setup
	$(BIN)/python benchmarks/ingest.py ../shared/eval/smoke --vs-tutorial

clean:
	rm -rf $(VENV) .newsbot runs
