# The two commands of the README:
#   make demo   - set up, then run the wikisearch demo (synthetic dump, index, server)
#   make test   - set up, then run the whole test suite
PYTHON ?= python3
export PYTHON

.PHONY: setup demo test build bench clean

setup:
	tools/setup.sh

build: setup

demo: setup
	$(PYTHON) -m wikisearch demo

test: setup
	$(PYTHON) -m pytest -q

bench: setup
	bench/run.sh

clean:
	rm -rf build .stamp-* pxcy/*.c pxcy/*.so pxcy/protocols/*.c pxcy/protocols/*.so tests/support/*.c tests/support/*.so
