VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install migrate seed static css lint bench browser clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

# Frames over 128 KB are refused by the server itself; the chat socket refuses
# anything over 64 KB with an error fragment.
WS_MAX := 131072

# Hashed, gzip and Brotli copies of every static file in STATIC_ROOT; what
# /static/ serves with DEBUG=0. DEBUG (the default) serves static/ as it is.
static: install
	$(PY) manage.py collectstatic --noinput --verbosity 0

run: seed $(if $(filter 0 false no off,$(DEBUG)),static)
	$(PY) -m daphne -b $(HOST) -p $(PORT) --websocket-max-message-size $(WS_MAX) --websocket-max-frame-size $(WS_MAX) config.asgi:application

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

browser: install
	$(PY) -m pytest -m browser $(PYTEST_ARGS)

bench: install
	$(PY) bench/run.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Only needed to change styles: the built CSS is committed.
css:
	cd tailwind && npm ci --no-audit --no-fund && npm run build

clean:
	rm -rf $(VENV) db.sqlite3 media staticfiles
