# fanfare: `make run` starts the site, `make test` runs every test. Both install what is missing.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test e2e lint bench fleet chaos deps system-deps clean extract update compile add-language

# Compiled catalogs are built here, never committed: one .mo beside each .po (see README,
# "For translators").
LOCALES := site/fanfare/translations
POT := $(LOCALES)/messages.pot
MO := $(patsubst %.po,%.mo,$(wildcard $(LOCALES)/*/LC_MESSAGES/messages.po))

deps: system-deps $(VENV)/.installed node_modules/.installed $(MO)

system-deps:
	@scripts/system-deps.sh

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

run: deps
	@scripts/run.sh

# Two pytest-xdist workers, one test file each at a time (module fixtures stay whole): the
# suite mostly waits on its stacks, so two run in about the time of one. TEST_WORKERS=0 for one.
TEST_WORKERS ?= 2

test: deps
	@scripts/services.sh
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

# make e2e [BASE_URL=https://staging.example] [MARK=fan|editor|slow_network|"not local_only"]
# Without BASE_URL it starts a whole local stack on free ports; with it, it starts nothing.
e2e: deps
	@$(if $(BASE_URL),true,scripts/services.sh)
	$(BIN)/pytest e2e $(if $(BASE_URL),--base-url $(BASE_URL)) $(if $(MARK),-m "$(MARK)")

# BENCH_QUICK=1 for a 2-3 minute smoke run; BENCH_ONLY=ingest,drain for some scenarios only.
bench: deps $(VENV)/.bench-installed
	@scripts/services.sh
	$(BIN)/python bench/run.py

$(VENV)/.bench-installed: pyproject.toml
	$(BIN)/pip install -q -e '.[dev,bench]'
	@touch $@

# A fleet on this machine (2 edges, 2 web, 3 ingest, 2 writers, PgBouncer, Redis + replica under
# 3 Sentinels; 127.0.0.1 only, about 3 minutes): WAIT's cost, 1 vs 3 ingests, purges on both
# edges, and a failover drill checked vote by vote. Results: bench/results/fleet.json.
fleet: deps $(VENV)/.bench-installed
	@scripts/services.sh
	timeout 600 $(BIN)/python bench/fleet.py

# A fault suite (issue 13): a spike of 50,000+ votes through the edge while the writer, Redis,
# PostgreSQL (a private cluster), web and ingest are killed or frozen; every answer is checked
# against PostgreSQL. 127.0.0.1 only, bounded to 10 minutes. Results: bench/results/chaos.json.
chaos: deps
	timeout 600 $(BIN)/python bench/chaos.py

$(LOCALES)/%/LC_MESSAGES/messages.mo: $(LOCALES)/%/LC_MESSAGES/messages.po $(VENV)/.installed
	@$(BIN)/pybabel -q compile -l $* -i $< -o $@

# Translators: extract the marked strings, merge them into every catalog, compile.
extract: $(VENV)/.installed
	$(BIN)/pybabel -q extract -F babel.cfg -k _l --no-wrap --sort-by-file \
		--project fanfare --msgid-bugs-address translations@fanfare.invalid -o $(POT) .

update: extract
	$(BIN)/pybabel -q update -i $(POT) -d $(LOCALES) --no-wrap --no-fuzzy-matching --ignore-obsolete

compile: $(MO)

# make add-language LANGUAGE=nl (then add it to LANGUAGES in site/fanfare/http/i18n.py)
add-language: extract
	$(BIN)/pybabel -q init -i $(POT) -d $(LOCALES) -l $(LANGUAGE) --no-wrap

lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache
