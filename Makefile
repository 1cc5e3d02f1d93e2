# One command to try it, one to test it. Everything else is a step of those.
PY := .venv/bin/python

.PHONY: run lint check test setup train validate chat i18n bench clean

run: setup            ## set up, train if needed, start everything, chat in the terminal
	$(PY) -m assistant run

lint: setup           ## ruff's lint and format check, mypy
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
# engine/ runs in Rasa's Python 3.10: checked as that, against .venv-rasa's libraries
	.venv/bin/mypy --python-version 3.10 --python-executable .venv-rasa/bin/python engine benchmarks/rasa_predict.py

check: lint           ## the fast lane (about 5 minutes on 2 cores): lint, then the tests that need no model
	$(PY) -m pytest -m "not e2e and not slow"

test: lint            ## the whole test suite (CI runs exactly this): lint, then every test in one run
# One run, so the model the end-to-end tests need trains in the background while all the other tests run.
	$(PY) -m pytest

setup:
	@scripts/setup.sh

train: setup
	$(PY) -m assistant train

validate: setup
	$(PY) -m assistant validate

chat: setup           ## a terminal chat against a running assistant
	$(PY) -m assistant chat

i18n: setup           ## re-extract texts and update the az/ru/en catalogs
	.venv/bin/pybabel extract -F babel.cfg -k N_ --no-default-keywords --no-location --sort-output \
		-o core/locales/messages.pot .
	.venv/bin/pybabel update -i core/locales/messages.pot -d core/locales -w 120 \
		--ignore-obsolete --no-fuzzy-matching

bench: setup          ## every benchmark at full size (about an hour on 2 cores)
	$(PY) -m benchmarks.nlu_accuracy
	$(PY) -m benchmarks.latency
	$(PY) -m benchmarks.resources

clean:
	rm -rf var models .rasa
