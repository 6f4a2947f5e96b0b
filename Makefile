# The two commands of the README: `make run` and `make test`.  Both bootstrap
# what is missing (system packages, .venv, Python packages from the hash-pinned
# requirements/dev.txt) first.  `make lock` regenerates requirements/*.txt from
# pyproject.toml; a production kiosk runs `scripts/bootstrap.sh --kiosk` instead.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
XVFB  := xvfb-run -a -s "-screen 0 1920x1080x24 +extension GLX"

.PHONY: bootstrap lock run test bench tour clean

bootstrap:
	@scripts/bootstrap.sh

lock:
	@scripts/lock.sh

run: bootstrap
	@scripts/run.sh

test: bootstrap
	$(XVFB) $(PY) -m pytest -q $(PYTEST_ARGS)

bench: bootstrap
	$(XVFB) $(PY) -m bench.run $(BENCH_ARGS)

tour: bootstrap
	$(XVFB) $(VENV)/bin/kiosk --tour var/tour
	@echo "screenshots in var/tour/"

clean:
	rm -rf var/tour .pytest_cache
