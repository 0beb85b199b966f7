# The README's two commands: `make run` (the whole pipeline on the demo world, then a served feed)
# and `make test`. Each sets itself up on a fresh machine (Python 3.11 and Java 17 are all it needs).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_ROOT ?= .skillrank
# The demo world: 5,000 accounts keep `make run` within minutes on two cores and still show a model that
# beats every baseline against latent skill (README, "How long it takes"); `make run ACCOUNTS=20000` is the
# full-size world. The world's directory names its size and seed, so another size is simulated anew.
ACCOUNTS ?= 5000
START ?= 2016-01-01
END ?= 2021-12-31
SEED ?= 7
WORLD := $(DATA_ROOT)/demo-world-$(ACCOUNTS)-$(SEED)

.PHONY: run test install world lint compile benchmarks clean

# The environment is the lock, not a fresh resolution: requirements-dev.lock (requirements.lock, which the
# image installs, plus the dev tools), every file pinned by hash, installed with --no-deps so nothing is
# resolved; then the project itself, editable. uv installs them (pinned by hash itself, in
# requirements-bootstrap.lock): the same wheels as pip, in parallel, in under a minute where pip takes over
# three. After changing dependencies in pyproject.toml, regenerate both locks with uv (the commands are at
# the top of each file) and commit them.
UV := $(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps
$(BIN)/skillrank: pyproject.toml requirements-dev.lock requirements-bootstrap.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements-bootstrap.lock
	$(UV) --require-hashes -r requirements-dev.lock
	$(UV) --no-build-isolation -e .
	$(BIN)/pip check
	touch $@

# The default data root's feast/ directory, so the feast CLI runs against it (README).
install: $(BIN)/skillrank
	mkdir -p $(DATA_ROOT)/feast

$(WORLD)/accounts: | $(BIN)/skillrank
	$(BIN)/skillrank --data-root $(DATA_ROOT) simulate --accounts $(ACCOUNTS) --start $(START) --end $(END) --seed $(SEED) --out $(WORLD)

world: $(WORLD)/accounts

run: install world
	$(BIN)/skillrank --data-root $(DATA_ROOT) run --source $(WORLD)
	$(BIN)/skillrank --data-root $(DATA_ROOT) feed --top-k 10

test: install
	$(BIN)/lint-imports
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .

compile: install
	$(BIN)/skillrank compile --output $(DATA_ROOT)/skillrank-training.yaml

benchmarks: install
	$(BIN)/pytest tests/benchmarks -s -p no:cacheprovider -o addopts=""

clean:
	rm -rf $(DATA_ROOT)
