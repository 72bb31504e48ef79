# make demo: install everything (system + Python) and run hcrbatch over samples/ into out/
# make test: install the test extras and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
EMNIST ?= ../shared/data/emnist
LINES ?= ../shared/data
# another collection (HTR-United, CC-BY 4.0) the last step of `make lines` also trains on: its tuning pages only
MSS18 ?= .train/CREMMA-MSS-18/data
LLAMA_CPP_VERSION := 0.3.36
WHEELS ?= $(HOME)/.cache/hcrbatch/wheels-portable

.PHONY: demo test install install-llm system-deps line-fonts llama-wheel model lines gan samples clean lines-gpu-pack

# poppler for PDFs; Tesseract's English and French data for printed lines (the tesserocr wheel has the library);
# Chromium, in which the tests render the review page
system-deps:
	@command -v pdftoppm >/dev/null && command -v pdftotext >/dev/null && command -v chromium >/dev/null && \
	  [ -e /usr/share/color/icc/sRGB.icc ] && \
	  ls /usr/share/tesseract-ocr/*/tessdata/eng.traineddata /usr/share/tesseract-ocr/*/tessdata/fra.traineddata >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq poppler-utils tesseract-ocr-eng tesseract-ocr-fra chromium icc-profiles-free; }

# Handwriting fonts for synthetic training lines (hcrbatch/train/synthlines.py): script and hand-printing;
# FreeFont's serif and mono for the printed letterheads and typescript the tests draw.
line-fonts:
	@[ -e /usr/share/fonts/truetype/kristi/Kristi.ttf ] && [ -d /usr/share/fonts/opentype/dancingscript ] && \
	  [ -d /usr/share/fonts/truetype/breip ] && [ -d /usr/share/fonts/truetype/sjfonts ] && \
	  [ -d /usr/share/fonts/truetype/freefont ] || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq fonts-kristi fonts-dancingscript fonts-breip fonts-sjfonts fonts-freefont-ttf; }

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: system-deps $(BIN)/activate
	$(BIN)/pip install -q -e '.[cpu]'

demo: install
	$(BIN)/hcrbatch run samples out
	@echo "demo outputs (PDF, TXT, CSV per sample, hcrbatch-report.csv) are in out/"

# llama-cpp-python builds from source (about 4-7 min); the wheel is kept and reused. GGML_NATIVE=OFF
# builds for AVX2, not for the building CPU: a native build on a CPU with AMX segfaults in its first
# decode of a Q4 model (ggml-org/llama.cpp#20824), and a kept wheel must run on other machines too.
llama-wheel: $(BIN)/activate
	@ls $(WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1 || \
	  { command -v cmake >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq cmake g++; }; \
	    CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/pip wheel -q --no-deps --no-cache-dir -w $(WHEELS) \
	      llama-cpp-python==$(LLAMA_CPP_VERSION); }

install-llm: install llama-wheel
	$(BIN)/pip install -q --find-links $(WHEELS) -e '.[cpu,llm]'

test: system-deps line-fonts $(BIN)/activate llama-wheel
	$(BIN)/pip install -q --find-links $(WHEELS) -e '.[cpu,test,llm,dask,jax]'
	$(BIN)/python -m pytest

# Rebuild the shipped character model from ../shared/data (about 1 h on 2 CPU cores), then retune
# --engine auto for it (the line model's manifest holds the rule).
model: install
	$(SUDO) apt-get install -y -qq fonts-dkg-handwriting fonts-sjfonts fonts-breip fonts-ecolier-court
	$(BIN)/hcrbatch train --data $(EMNIST) --overwrite --log-file .train/charcnn.log
	$(BIN)/hcrbatch tune-auto --data $(LINES)/hooker-lines --data $(LINES)/cremma-lines --emnist $(EMNIST) --overwrite

# Rebuild the shipped line model (about 12 h on 2 CPU cores: 14 epochs of the convolutional model, 12 more at a
# lower learning rate, then 10 with an LSTM head on its backbone, five times 12 more of those, each from the last,
# then 6 and 4 more with the pipeline's own crops of rebuilt training pages, then 3 on the real training pages:
# our crops of their lines and their transcribed outlines), then tune --engine auto for it; then 1 more with
# CREMMA-MSS-18's tuning pages added (cloned from GitHub), and the word confidence refitted.
lines: install line-fonts
	$(BIN)/hcrbatch train-lines --data $(LINES)/hooker-lines --data $(LINES)/cremma-lines --epochs 14 --overwrite --log-file .train/lines.log
	$(BIN)/hcrbatch train-lines --data $(LINES)/hooker-lines --data $(LINES)/cremma-lines --init-from lines \
	  --learning-rate 3e-4 --epochs 12 --overwrite --log-file .train/lines.log
	$(BIN)/hcrbatch train-lines --data $(LINES)/hooker-lines --data $(LINES)/cremma-lines --init-from lines \
	  --head lstm --learning-rate 5e-4 --epochs 10 --overwrite --log-file .train/lines.log
	for continuation in 1 2 3 4 5; do \
	  $(BIN)/hcrbatch train-lines --data $(LINES)/hooker-lines --data $(LINES)/cremma-lines --init-from lines \
	    --head lstm --learning-rate 3e-4 --epochs 12 --overwrite --log-file .train/lines.log || exit 1; \
	done
	$(BIN)/hcrbatch train-lines --data $(LINES)/hooker-lines --data $(LINES)/cremma-lines --init-from lines \
	  --head lstm --learning-rate 3e-4 --epochs 6 --page-crops --overwrite --log-file .train/lines.log
	$(BIN)/hcrbatch train-lines --data $(LINES)/hooker-lines --data $(LINES)/cremma-lines --init-from lines \
	  --head lstm --learning-rate 3e-4 --epochs 4 --page-crops --overwrite --log-file .train/lines.log
	$(BIN)/hcrbatch train-lines --data $(LINES)/hooker-pages --data $(LINES)/cremma-pages --init-from lines \
	  --head lstm --learning-rate 3e-4 --epochs 3 --overwrite --log-file .train/lines.log
	$(BIN)/hcrbatch tune-auto --data $(LINES)/hooker-lines --data $(LINES)/cremma-lines --emnist $(EMNIST) --overwrite
	[ -d $(MSS18) ] || git clone -q https://github.com/HTR-United/CREMMA-MSS-18 $(dir $(MSS18:/=))
	$(BIN)/python benchmarks/other_collections.py --data $(MSS18) --link-tuning .train/cremma-mss-18
	$(BIN)/hcrbatch train-lines --data $(LINES)/hooker-pages --data $(LINES)/cremma-pages --data .train/cremma-mss-18 \
	  --init-from lines --head lstm --learning-rate 1e-4 --epochs 1 --overwrite --log-file .train/lines.log
	$(BIN)/python benchmarks/word_confidence.py --write

# Rebuild the shipped GAN generator (about 35 min on 2 CPU cores).
gan: install
	$(SUDO) apt-get install -y -qq fonts-dkg-handwriting fonts-sjfonts fonts-breip fonts-ecolier-court
	$(BIN)/hcrbatch gan train --data $(EMNIST) --overwrite --log-file .train/chargan.log

samples: install
	$(SUDO) apt-get install -y -qq fonts-sjfonts fonts-breip
	$(BIN)/python samples/make_samples.py

clean:
	rm -rf out .pytest_cache

# The line model on a lent GPU machine (docs/models.md): the training lines packed for the device
# tool, held-out pages left out; then there: KERAS_BACKEND=jax python -m hcrbatch.train.gpulines train ...
lines-gpu-pack: $(BIN)/activate
	$(BIN)/python -m hcrbatch.train.gpulines pack --data ../shared/data/hooker-pages \
	  --data ../shared/data/cremma-pages --held-out-from models/lines.json --out .gpu/lines.npz
