# Patchwarden — the two commands of the README quick start are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Debian tools the tests drive for real (installed only when one is missing).
DEB_PACKAGES := dpkg-dev apt-utils lz4 xz-utils rpm dnf createrepo-c umoci skopeo docker-registry
DEB_TOOLS    := dpkg-deb dpkg-scanpackages apt-ftparchive lz4 xz rpm rpmbuild dnf createrepo_c modifyrepo_c umoci skopeo docker-registry
PYTEST_ARGS  ?= -n auto

.PHONY: run test venv dev-deps debian-deps postgres lint typecheck unit bench clean fuzz-api

$(BIN)/patchwarden: pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  rm -rf $(VENV); echo "installing python3-venv (needed to create $(VENV))"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q python3-venv && \
	  $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[server,sbom]'
	@touch $@

venv: $(BIN)/patchwarden

## make run: the main job on the embedded default — scan this host against the default baseline.
run: venv
	$(BIN)/patchwarden scan

$(VENV)/.dev-installed: pyproject.toml $(BIN)/patchwarden
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

dev-deps: $(VENV)/.dev-installed

debian-deps:
	@missing=""; for t in $(DEB_TOOLS); do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  echo "make test: the tests drive these Debian tools for real and some are missing:$$missing"; \
	  echo "make test: installing the host packages $(DEB_PACKAGES) with apt-get (as root, via sudo"; \
	  echo "make test: when not root); apt-get may also install or upgrade packages they depend on:"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && \
	  { apt-get install -s -q --no-install-recommends $(DEB_PACKAGES) | sed -n 's/^Inst /make test:   /p'; } && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $(DEB_PACKAGES); \
	fi

lint: dev-deps
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

## make test: dev dependencies, Debian tools, PostgreSQL, lint, types, and the whole suite.
test: dev-deps debian-deps postgres lint
	$(BIN)/pytest $(PYTEST_ARGS)

# The server tests run on SQLite and on the local PostgreSQL (127.0.0.1:5432, database test);
# start the cluster when a check finds it down (it is normally running already).
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || { \
	  echo "starting PostgreSQL"; \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start && \
	  for i in 1 2 3 4 5 6 7 8 9 10; do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; }

## make fuzz-api: schemathesis against the server's OpenAPI document, on SQLite and PostgreSQL
## (no 5xx, no undocumented status); FUZZ_EXAMPLES cases per operation, bounded by FUZZ_TIMEOUT.
FUZZ_EXAMPLES ?= 100
FUZZ_TIMEOUT  ?= 900
fuzz-api: dev-deps postgres
	PATCHWARDEN_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) timeout $(FUZZ_TIMEOUT) \
	  $(BIN)/pytest -q -n 2 -p no:cacheprovider -m fuzz tests/fuzz

unit: dev-deps
	$(BIN)/pytest tests/unit -q

bench: venv
	$(BIN)/python bench/scan_vs_apt.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
