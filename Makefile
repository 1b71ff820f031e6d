# The two commands of the README:
#   make demo   - set up, then run the wikisearch demo (synthetic dump, index, server);
#                 DEMO_ARGS="--port 0 --workers 2" passes options to `wikisearch demo`
#   make test   - set up, then run the whole test suite
# tools/setup.sh makes the project virtual environment .venv/ (Debian packages, Python
# packages, this checkout's pxcy and wikisearch installed editable); every Python step
# below runs in it. PXCY_PYTHON picks the interpreter the venv is made from.
VENV := $(CURDIR)/.venv
PYTHON := $(VENV)/bin/python
export PYTHON
export PATH := $(VENV)/bin:$(PATH)
# the venv alone decides what is imported (not a PYTHONPATH left in the shell)
unexport PYTHONPATH PYTHONHOME
DEMO_ARGS ?=

.PHONY: setup demo test build bench clean

setup:
	tools/setup.sh

build: setup

demo: setup
	$(PYTHON) -m wikisearch demo $(DEMO_ARGS)

test: setup
	$(PYTHON) -m pytest -q

bench: setup
	bench/run.sh

clean:
	rm -rf build .stamp-* pxcy/*.c pxcy/*.so pxcy/protocols/*.c pxcy/protocols/*.so tests/support/*.c tests/support/*.so
