# make demo: install everything (system + Python) and run hcrbatch over samples/ into out/
# make test: install the test extras and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
EMNIST ?= ../shared/data/emnist

.PHONY: demo test install system-deps model samples clean

system-deps:
	@command -v pdftoppm >/dev/null && command -v pdftotext >/dev/null || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq poppler-utils; }

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: system-deps $(BIN)/activate
	$(BIN)/pip install -q -e '.[cpu]'

demo: install
	$(BIN)/hcrbatch run samples out
	@echo "demo outputs (PDF, TXT, CSV per sample, hcrbatch-report.csv) are in out/"

test: system-deps $(BIN)/activate
	$(BIN)/pip install -q -e '.[cpu,test]'
	$(BIN)/python -m pytest

# Rebuild the shipped character model from ../shared/data (about 1.5 h on 2 CPU cores).
model: install
	$(SUDO) apt-get install -y -qq fonts-dkg-handwriting fonts-sjfonts fonts-breip fonts-ecolier-court
	$(BIN)/hcrbatch train --data $(EMNIST) --log-file .train/charcnn.log

samples: install
	$(SUDO) apt-get install -y -qq fonts-sjfonts fonts-breip
	$(BIN)/python samples/make_samples.py

clean:
	rm -rf out .pytest_cache
