# Patchwarden — the two commands of the README quick start are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Debian tools the tests drive for real (installed only when one is missing).
DEB_PACKAGES := dpkg-dev apt-utils lz4 xz-utils rpm dnf createrepo-c umoci skopeo docker-registry mmdebstrap zypper busybox runc nginx chromium
DEB_TOOLS    := dpkg-deb dpkg-scanpackages apt-ftparchive lz4 xz rpm rpmbuild dnf createrepo_c modifyrepo_c umoci skopeo docker-registry mmdebstrap zypper busybox runc nginx chromium
# loadgroup: the browser tests (tests/web, one xdist group) share one worker, server and chromium
PYTEST_ARGS  ?= -n auto --dist loadgroup

.PHONY: run test venv dev-deps debian-deps image-debs image-example deploy-example postgres lint typecheck unit bench clean fuzz-api screenshot demo

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

## make demo: a server with a small sandbox fleet (real apt and agents, compliance, findings, a
## maintenance window, a conformance pack), offline; prints the URL and tokens, Ctrl-C stops it.
## dpkg-deb and apt-get come with Debian; apt-utils (apt-ftparchive) is installed when missing.
DEMO_ARGS ?=
demo: venv
	@command -v apt-ftparchive >/dev/null 2>&1 || { \
	  echo "make demo: installing apt-utils with apt-get (apt-ftparchive builds the demo's repository)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends apt-utils; }
	$(BIN)/patchwarden demo $(DEMO_ARGS)

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
test: dev-deps debian-deps image-debs postgres lint
	$(BIN)/pytest $(PYTEST_ARGS)

# The image-build tests bootstrap Debian from a local mirror of apt's cached .debs (the tests
# use no network): download the minimal set into apt's cache once.
MINBASE := examples/images/support/minbase-bookworm.txt
image-debs: debian-deps
	@$(PYTHON) examples/images/support/local-mirror.py --check 2>/dev/null || { \
	  echo "make test: downloading the .debs of a minimal Debian root into apt's cache (image-build tests)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -q -y --reinstall --download-only $$(cat $(MINBASE)) >/dev/null || { \
	    $$SUDO apt-get update -q >/dev/null && \
	    $$SUDO apt-get install -q -y --reinstall --download-only $$(cat $(MINBASE)) >/dev/null; }; }

## make image-example: what docs/images.md's build example needs on this machine: a Debian
## mirror made of apt's cached .debs, a registry on 127.0.0.1:5055, an example vulnerability
## database when there is none.  Run as root (the mirror lives in /var/lib/patchwarden-example).
EXAMPLE_DIR := /var/lib/patchwarden-example
REGISTRY_UP := $(PYTHON) -c "import urllib.request as u; u.urlopen('http://127.0.0.1:5055/v2/', timeout=1)" 2>/dev/null
image-example: venv debian-deps image-debs
	$(PYTHON) examples/images/support/local-mirror.py $(EXAMPLE_DIR)/repo
	@mkdir -p $(EXAMPLE_DIR)/registry
	@$(REGISTRY_UP) || { \
	  sed "s|@STORAGE@|$(EXAMPLE_DIR)/registry|" examples/images/support/registry.yml > $(EXAMPLE_DIR)/registry.yml; \
	  nohup docker-registry serve $(EXAMPLE_DIR)/registry.yml > $(EXAMPLE_DIR)/registry.log 2>&1 & \
	  for i in 1 2 3 4 5 6 7 8 9 10; do $(REGISTRY_UP) && break; sleep 0.5; done; \
	  echo "a registry listens on 127.0.0.1:5055 (log: $(EXAMPLE_DIR)/registry.log)"; }
	@[ -f "$$($(BIN)/python -c 'from patchwarden import settings; print(settings.vulndb_path())')" ] || \
	  $(BIN)/patchwarden db import examples/images/support/example-vulns.json

## make deploy-example: what docs/deployments.md needs: image-example's mirror with the
## example service's web-site 1.0 package published in it (runc and nginx come with
## debian-deps).  Run as root.
deploy-example: image-example
	$(PYTHON) examples/deployments/support/site-package.py 1.0 $(EXAMPLE_DIR)/debs
	$(PYTHON) examples/images/support/local-mirror.py $(EXAMPLE_DIR)/repo --publish $(EXAMPLE_DIR)/debs/web-site_1.0_all.deb

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

## make fuzz-parsers: the parser fuzz tests of `make test` (tests/fuzz/test_parsers_fuzz.py: dpkg,
## apt, updateinfo, rpm, feeds, documents, schedules, OCI images) with PARSER_EXAMPLES examples
## each instead of 60; with ATHERIS_SECONDS > 0 and atheris installed (pip install atheris),
## also atheris on every target for that long (tests/fuzz/atheris_driver.py; the corpus and
## any crash go to a new /tmp/patchwarden-atheris-* directory; the first crash stops the run).
PARSER_EXAMPLES ?= 5000
ATHERIS_SECONDS ?= 0
.PHONY: fuzz-parsers
fuzz-parsers: dev-deps
	PATCHWARDEN_FUZZ_PARSER_EXAMPLES=$(PARSER_EXAMPLES) $(BIN)/pytest -q -n auto -p no:cacheprovider \
	  tests/fuzz/test_parsers_fuzz.py tests/fuzz/test_parser_regressions.py
	@if [ "$(ATHERIS_SECONDS)" -gt 0 ]; then \
	  export PATCHWARDEN_ATHERIS_DIR=$$(mktemp -d /tmp/patchwarden-atheris-XXXXXX); \
	  for t in $$($(BIN)/python tests/fuzz/atheris_driver.py --list); do \
	    $(BIN)/python tests/fuzz/atheris_driver.py $$t $(ATHERIS_SECONDS) || exit 1; \
	  done; fi

## make screenshot: docs/images/console-overview.png (README): the overview of `patchwarden
## demo`'s fleet in Debian's headless chromium, 1280×800 (tests/web/screenshot.py).
screenshot: dev-deps debian-deps
	$(BIN)/python tests/web/screenshot.py docs/images/console-overview.png

unit: dev-deps
	$(BIN)/pytest tests/unit -q

bench: venv
	$(BIN)/python bench/scan_vs_apt.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
