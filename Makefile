# The two commands of the README: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed

export RAY_USAGE_STATS_ENABLED := 0

.PHONY: demo test chromium lint clean

$(STAMP): pyproject.toml requirements-tested.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -c requirements-tested.txt -e '.[dev]'
	$(VENV)/bin/python -c "from curation.filters.langid import install; print(install())"
	$(VENV)/bin/python -c "import curation, torch, ray, datatrove, fasttext"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/curate run pipelines/demo.py --executor ray --num-cpus 2

# The HTML report's browser test needs headless Chromium: Debian's package, installed here when
# missing and run as root with apt-get; otherwise that one test is skipped.
chromium:
	@command -v chromium >/dev/null || { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; else echo "note: no chromium; the browser test will be skipped (apt install chromium)"; fi; }

test: $(STAMP) chromium
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest -q

clean:
	rm -rf runs .pytest_cache
