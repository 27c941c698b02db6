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
# The production server, chosen by `make bench` (README, Performance): uvicorn on
# uvloop and httptools, whose websocket send waits while a socket's transport is
# full, so each socket's bounded queue holds what it is owed. No per-message
# deflate: it cost more CPU per frame than it saved on the wire. Django has no
# lifespan protocol. Tests and the bench start the server with these same flags.
SERVER_FLAGS := --loop uvloop --http httptools --ws realtime.server:WebSocketProtocol --ws-max-size $(WS_MAX) --ws-per-message-deflate false --lifespan off --no-access-log

# Hashed, gzip and Brotli copies of every static file in STATIC_ROOT; what
# /static/ serves with DEBUG=0. DEBUG (the default) serves static/ as it is.
static: install
	$(PY) manage.py collectstatic --noinput --verbosity 0

run: seed $(if $(filter 0 false no off,$(DEBUG)),static)
	$(PY) -m uvicorn config.asgi:application --host $(HOST) --port $(PORT) $(SERVER_FLAGS)

# Test-only JavaScript the browser tests use (axe-core, Lighthouse), pinned in
# tests/browser/package-lock.json: installed when missing or when the lockfile
# changed. Without npm the other tests still run; the browser tests then fail
# and say what is missing.
BROWSER_JS := tests/browser/node_modules/.installed

$(BROWSER_JS): tests/browser/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		cd tests/browser && npm ci --no-audit --no-fund --silent && touch node_modules/.installed; \
	else \
		echo "npm not found: the browser tests need tests/browser's npm packages (cd tests/browser && npm ci)"; \
	fi

test: install $(BROWSER_JS)
	$(PY) -m pytest $(PYTEST_ARGS)

browser: install $(BROWSER_JS)
	$(PY) -m pytest -m browser $(PYTEST_ARGS)

bench: install
	$(PY) bench/run.py
	$(PY) bench/unread.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Only needed to change styles: the built CSS is committed.
css:
	cd tailwind && npm ci --no-audit --no-fund && npm run build

clean:
	rm -rf $(VENV) db.sqlite3 media staticfiles
