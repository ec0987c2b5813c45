# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint install migrate demo run-services worker worker-pdf beat bench-pdf bench clean

$(VENV)/.installed: requirements.txt debian-packages.txt
	scripts/debian-packages
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py loaddata st0220
	$(PY) manage.py seed_demo

# The embedded default: SQLite, local files, tasks in-process, demo data.
run: demo
	@echo "Serving on http://$(HOST):$(PORT)/ (Ctrl-C stops it)"
	$(PY) manage.py runserver $(HOST):$(PORT)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest $(PYTEST_ARGS)

# PostgreSQL + Redis + a Celery worker: set DATABASE_URL and REDIS_URL first (see README).
run-services: install
	@test -n "$$DATABASE_URL" || (echo "Set DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/portal)"; exit 1)
	@test -n "$$REDIS_URL" || (echo "Set REDIS_URL (e.g. redis://127.0.0.1:6379/0)"; exit 1)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py loaddata st0220
	$(VENV)/bin/celery -A portal worker --beat --loglevel=INFO --concurrency=2 \
	  -Q $${CELERY_QUEUE:-portal},$${CELERY_PDF_QUEUE:-pdf} & \
	  worker=$$!; trap "kill $$worker" EXIT INT TERM; \
	  $(PY) manage.py runserver $(HOST):$(PORT)

worker: install
	$(VENV)/bin/celery -A portal worker --loglevel=INFO -Q $${CELERY_QUEUE:-portal}

worker-pdf: install
	$(VENV)/bin/celery -A portal worker --loglevel=INFO -Q $${CELERY_PDF_QUEUE:-pdf} \
	  --concurrency=$${PDF_WORKER_CONCURRENCY:-1} --hostname=pdf@%h

beat: install
	$(VENV)/bin/celery -A portal beat --loglevel=INFO

# Measures the portfolio export on a throwaway database; prints figures, never fails on speed.
bench-pdf: install
	@dir=$$(mktemp -d); trap 'rm -rf "$$dir"' EXIT; \
	  export DATABASE_URL="sqlite:///$$dir/bench.sqlite3" MEDIA_ROOT="$$dir/media" REDIS_URL= \
	    EMAIL_URL=dummymail:// LOG_LEVEL=WARNING; \
	  $(PY) manage.py migrate --noinput -v0 && $(PY) manage.py bench_pdf

# The key pages at 1/10 and full size on gunicorn, PostgreSQL and Redis, against a bare view; writes
# docs/benchmarks.md. Needs PostgreSQL and Redis running (see README, "Benchmarks"); BENCH_QUICK=1 for a smoke test.
bench: install
	$(PY) scripts/bench.py

clean:
	rm -rf $(VENV) db.sqlite3 media staticfiles .pytest_cache .ruff_cache
