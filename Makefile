# The README's commands. `make run` serves the app; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed
TRANSLATIONS := $(patsubst %.po,%.mo,$(wildcard voting/translations/*/LC_MESSAGES/messages.po))
# PostgreSQL for the second test run; CI sets it, a newcomer without PostgreSQL can set it empty.
TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/test
export FLASK_APP := wsgi

.PHONY: run test test-sqlite test-postgres bench lint format translations extract-messages clean

$(RUNTIME): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(DEV): $(RUNTIME) requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

voting/translations/%/LC_MESSAGES/messages.mo: voting/translations/%/LC_MESSAGES/messages.po $(RUNTIME)
	$(BIN)/pybabel compile --use-fuzzy -d voting/translations -l $* -i $< -o $@

translations: $(TRANSLATIONS)

## run: set up, migrate, create the admin (and demo) on first start, serve on http://127.0.0.1:5000
run: $(RUNTIME) translations
	$(BIN)/flask init-app $(if $(NO_DEMO),--no-demo,)
	$(BIN)/gunicorn --config gunicorn.conf.py wsgi:app

## test: the whole suite on SQLite and on PostgreSQL (TEST_DATABASE_URL), side by side (one core each)
test: $(DEV) translations
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres

# TEST_DATABASE_URL is cleared here: CI exports it, and the two halves must not share a database.
test-sqlite: $(DEV) translations
	TEST_DATABASE_URL= $(BIN)/python -m pytest

test-postgres: $(DEV) translations
	@if [ -n "$(TEST_DATABASE_URL)" ]; then \
	  TEST_DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python -m pytest -m "not browser"; \
	else echo "TEST_DATABASE_URL is empty: PostgreSQL run skipped"; fi

## bench: the load benchmarks of docs/BENCHMARKS.md (needs wrk); all run, exit 1 if any missed a target
bench: $(DEV) translations
	status=0; \
	$(BIN)/python bench/run.py || status=1; \
	$(BIN)/python bench/consult_submit.py || status=1; \
	$(BIN)/python bench/vote_burst.py || status=1; \
	$(BIN)/python bench/waiting.py || status=1; \
	exit $$status

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(DEV)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

extract-messages: $(DEV)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 -o voting/translations/messages.pot --no-location --sort-output .
	$(BIN)/pybabel update -i voting/translations/messages.pot -d voting/translations --no-fuzzy-matching

clean:
	rm -rf $(VENV)
