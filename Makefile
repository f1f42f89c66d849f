# Two commands do everything on a fresh machine:
#   make book   create .venv, install, execute every notebook (book profile, cached), write the HTML
#   make test   create .venv, install, then the whole test suite (smoke profile)
# Other targets: make install, make lab, make bench, make clean, and
#   make student   the student edition in _build/student/: notebooks with stubs, manifest.json, HTML book
#   make full NOTEBOOKS=notebooks/NN_name.ipynb   run chapters in the full profile (a GPU) and record their tables
#   make gpu-bundle   pack wheels and data into .gpu/ for an offline GPU machine (then tools/gpu_full.sh there)
#   make landscape   train chapter 17's models once (about 2.5 h on a 2-core CPU) into $(CHECKPOINTS), for make book to load

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROFILE ?= $(or $(VAEBOOK_PROFILE),book)

.PHONY: install book test check lab bench full gpu-bundle student clean landscape

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (vaebook)" > /dev/null
	touch $(STAMP)

# Executes every notebook in $(PROFILE) with a cache that is cleared when src/ or the profile
# changes (see tools/book.py), then writes the HTML.
book: $(STAMP)
	VAEBOOK_PROFILE=$(PROFILE) $(BIN)/python tools/book.py
	@echo "The book is in _build/html/index.html"

# The tests: notebooks are clean, the book builds without warnings (not executing),
# then unit tests and every notebook under nbval, in the smoke profile.
test: $(STAMP)
	$(BIN)/python tools/nbclean.py --check notebooks/*.ipynb
	$(BIN)/python tools/book.py --check > _build_check.log 2>&1 || (cat _build_check.log; exit 1)
	@echo "book builds without warnings (log: _build_check.log)"
	VAEBOOK_PROFILE=smoke VAEBOOK_DEVICE=cpu $(BIN)/python -m pytest -p no:cacheprovider \
		--nbval-lax --nbval-current-env --durations=15 tests notebooks

lab: $(STAMP)
	$(BIN)/python -m pip install --quiet jupyterlab
	$(BIN)/jupyter lab notebooks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_mlp_vae.py --epochs 10 --json benchmarks/results.json

# The full profile: the published schedules, for a GPU. Writes src/vaebook/records/*.json (commit them)
# and executed copies in _build/full/.
NOTEBOOKS ?= notebooks/09_evaluating_vaes.ipynb notebooks/09b_exploring_vaes.ipynb notebooks/11_structured_prediction.ipynb notebooks/12_vq_vae.ipynb notebooks/13_autoregressive_models.ipynb \
	notebooks/14_adversarial_autoencoders.ipynb notebooks/15_denoising_and_adversarial_vb.ipynb notebooks/16_colour_images.ipynb \
	notebooks/17_generative_landscape.ipynb
full: $(STAMP)
	$(BIN)/python tools/run_full.py $(NOTEBOOKS)

# Chapter 17's six models (and the classifier that scores them) in $(PROFILE), with the PixelCNN's and the DDPM's
# samples, saved under $(CHECKPOINTS); build the book with VAEBOOK_CHECKPOINTS=$(CHECKPOINTS) to use them.
CHECKPOINTS ?= $(or $(VAEBOOK_CHECKPOINTS),$(CURDIR)/runs)
landscape: $(STAMP)
	VAEBOOK_PROFILE=$(PROFILE) VAEBOOK_CHECKPOINTS=$(CHECKPOINTS) $(BIN)/python tools/train_landscape.py

# Wheels (for Python 3.12; PY_VERSION=3.11 ...) and MNIST/Fashion-MNIST from $(VAEBOOK_DATA) or ../shared/data.
gpu-bundle: $(STAMP)
	PYTHON=$(BIN)/python tools/gpu_bundle.sh

# The student edition: coding exercises' solutions replaced by stubs, prose solutions withheld, checks kept;
# manifest.json for python -m vaebook grade; README.md with Colab links; the book's HTML without executing.
# STUDENT_REPO / STUDENT_BRANCH: where the instructor publishes _build/student (the Colab links point there).
STUDENT_REPO ?= vae-book/vae-book
STUDENT_BRANCH ?= student
student: $(STAMP)
	$(BIN)/python tools/student_copy.py notebooks/*.ipynb --out _build/student --book \
		--repository $(STUDENT_REPO) --branch $(STUDENT_BRANCH)

clean:
	rm -rf _build _build_check.log
