# The two commands a newcomer needs (see README):
#   make all    set up, then run every study on the default profile and write the report
#   make test   set up, then run the test suite
# Set-up is idempotent: a virtual environment in .venv with the package (editable) and its dev
# extra; on Debian as root, the system packages the data and the browser test need.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PROFILE ?= default
DEB_PACKAGES := dataset-fashion-mnist chromium chromium-driver

.PHONY: all test setup system-packages lint bench clean

all: setup system-packages
	$(VENV)/bin/nnstudy all --profile $(PROFILE)

# Two workers on the 2-core CI machine; --dist loadfile keeps a module's tests (and its module-scoped
# fixtures, and the session's quick main job in test_studies_quick.py) on one worker, so nothing runs twice.
test: setup system-packages
	$(PY) -m pytest -q -n 2 --dist loadfile

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# Fashion-MNIST (real data for the image studies), Chromium (the report's and serve's browser tests)
# and chromium-driver (Selenium drives the system Chromium with it) come from Debian. Without root
# or apt the tests that need them skip and say why.
system-packages:
	@missing=""; \
	[ -d /usr/share/datasets/fashion-mnist ] || missing="$$missing dataset-fashion-mnist"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null 2>&1 || missing="$$missing chromium-driver"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "note: not installing$$missing (needs root and apt-get); tests that need them will skip"; \
	  fi; \
	fi

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks

bench: setup system-packages
	$(PY) benchmarks/spiral.py

clean:
	rm -rf $(VENV) runs .pytest_cache
