"""One frozen Config carries every option from the CLI to the core; each stage reads only its part."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal


def installed_models_dir() -> Path:
    """The shipped models: a checkout's `models/` beside the package (an editable install, `make`),
    else the copy a wheel installs as data files under the environment's prefix."""
    checkout = Path(__file__).resolve().parent.parent / "models"
    return checkout if checkout.is_dir() else Path(sys.prefix) / "share" / "hcrbatch" / "models"


DEFAULT_MODELS_DIR = installed_models_dir()
# the class prior glyphs are read with (ModelManifest.log_prior_weights): prose for pages of running
# text, training (the character model's training rows) for isolated characters such as boxes on forms
CharPrior = Literal["prose", "training"]
SUPPORTED_SUFFIXES = (".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
OUTPUT_FORMATS = ("pdf", "txt", "csv", "alto", "page", "hocr")
DEFAULT_FORMATS = ("pdf", "txt", "csv", "alto")


@dataclass(frozen=True)
class Option:
    """How a setting is offered on the command line. `hcrbatch.cli` makes a Click option of every
    field that carries one (`option`), so a new reading option is one field here and its line in
    the docs; `run`, `eval-pages` and `calibrate` all get it, and `--config` files and HCRBATCH_*
    variables name it as the command line does."""

    help: str = ""
    name: str = ""  # the option's name when it is not the field's (--correct for `method`)
    low: float | None = None  # the range of a number
    high: float | None = None
    registry: str = ""  # a string chosen from a registry of the CLI's ("engines", "correctors")
    path: Literal["", "file", "dir"] = ""
    show_default: bool = True


def option(default: Any, help: str = "", **settings: Any) -> Any:
    """A config field with its default and how the command line offers it (`Option`)."""
    return field(default=default, metadata={"option": Option(help, **settings)})


@dataclass(frozen=True)
class IngestConfig:
    dpi: int = option(300, "PDF rasterisation, and the DPI assumed for images that record none.", low=50, high=1200)
    max_pixels: int = option(120_000_000, "Refuse pages larger than this many pixels.", low=1)  # before decoding


@dataclass(frozen=True)
class PreprocessConfig:
    binarize: Literal["otsu", "sauvola"] = option("otsu")
    deskew: bool = option(True)
    max_skew_degrees: float = 15.0
    rotate_pages: bool = option(
        False, "Find pages turned 90°, 180° or 270° and read them upright (each page is read twice to decide)."
    )
    despeckle: bool = True


@dataclass(frozen=True)
class SegmentConfig:
    word_gap: float = option(0.45, "Gap, as a fraction of letter height, that separates words.", low=0.05, high=5)
    line_finder: str = option(
        "linefinder",
        "Model in the models folder whose learned line density the lines are found on (hcrbatch train-line-finder); "
        "'rules' finds them on the writing blurred along the line alone.",
    )
    sideways: bool = option(
        True,
        "Find writing that runs up or down the page (a note up the margin) and read it turned; each such "
        "block is read as it lies and turned either way to decide.",
    )
    split_touching: bool = True
    cut_alternatives: bool = True  # offer other cuts (merge two glyphs, split one) to the corrector


@dataclass(frozen=True)
class RecognizeConfig:
    model: str = option("charcnn", "Model name in the models folder.")
    models_dir: Path = option(DEFAULT_MODELS_DIR, path="dir", show_default=False)
    batch_size: int = option(1024, low=1)
    top_k: int = option(5, low=1, high=20)
    # a name in hcrbatch.engines.ENGINES
    engine: str = option(
        "auto",
        "glyph: characters cut and classified (hand-printing); line: whole lines, CTC line model (cursive); "
        "tesseract: Tesseract on its own page layout (print, typescript); "
        "auto: both; the line engine on pages of joined-up script or whose lines favour it, elsewhere the glyph "
        "engine unless the line engine is surer of a line by a margin (glyph alone when no line model is installed).",
        registry="engines",
    )
    line_model: str = option("lines", "Line model name.")
    # hcrbatch.linekind; a model that is not installed reads every line as handwriting too
    line_kind_model: str = option(
        "linekind",
        "auto: the classifier that gives printed and typed lines to Tesseract (--lang's data installed); "
        "none reads every line as handwriting.",
    )
    # hcrbatch.ctcdecode
    char_lm: str = option(
        "auto",
        "Character language model the line engine's beam search uses: auto (every installed one competes "
        "for each page), none (best path), or a model name.",
    )
    line_batch_size: int = option(32, low=1)
    char_prior: CharPrior = option(
        "prose",
        "How likely each character is taken to be: prose, as in running text; training, as in the "
        "character model's training rows (many digits), for isolated characters such as boxes on forms.",
    )


@dataclass(frozen=True)
class CorrectConfig:
    # a name in hcrbatch.correctors.CORRECTORS
    method: str = option(
        "lexicon", "none: the CNN's reading; lexicon: word model; llm: lexicon plus a local LLM.", name="correct",
        registry="correctors",
    )  # fmt: skip
    lang: str = option("en", "Lexicon language (wordfreq code).")
    llm_path: Path | None = option(
        None, "GGUF model for --correct llm (default: SmolLM2-135M from the llm extra).", name="llm", path="file"
    )
    llm_ctx: int = option(1024, low=64)
    llm_threads: int = option(0, "llama.cpp threads (0: its default).", low=0, show_default=False)
    llm_gpu_layers: int = option(0, "Layers on the GPU (-1: all).", low=-1)
    llm_threshold: float = option(0.9, "Lines whose best reading is at least this likely skip the LLM.", low=0, high=1)
    llm_candidates: int = 8  # candidate lines per line that the LLM scores
    llm_weight: float = 1.0  # weight of the LLM's per-word log-likelihood against the lexicon score


@dataclass(frozen=True)
class Config:
    input_dir: Path
    output_dir: Path
    glob: str = "*"
    recursive: bool = True
    force: bool = False
    fail_fast: bool = False
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    threads: int = 1  # pages one reading process reads at once, sharing its models (with --workers 1)
    executor: Literal["local", "dask"] = "local"  # local: --workers processes here; dask: an existing cluster's workers
    scheduler: str = ""  # the dask scheduler's address (tcp://host:8786), for executor "dask"
    low_confidence: float = option(
        0.6,
        "Words whose confidence (the probability they are right, where the engine is calibrated) is below this "
        "count as low-confidence.",
    )
    progress: bool = False
    formats: tuple[str, ...] = DEFAULT_FORMATS  # of OUTPUT_FORMATS, written for every input
    output_type: Literal["pdf", "pdfa"] = "pdf"  # pdfa: the searchable PDF as PDF/A-2b (hcrbatch.pdfa)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    segment: SegmentConfig = field(default_factory=SegmentConfig)
    recognize: RecognizeConfig = field(default_factory=RecognizeConfig)
    correct: CorrectConfig = field(default_factory=CorrectConfig)

    def settings_digest(self, model_digest: str) -> str:
        """Hash of every setting that changes the outputs; a re-run with another digest redoes the file."""
        relevant = {
            "ingest": asdict(self.ingest),
            "preprocess": asdict(self.preprocess),
            "segment": asdict(self.segment),
            "recognize": {**asdict(self.recognize), "models_dir": None, "model_digest": model_digest},
            "correct": asdict(self.correct),
            "low_confidence": self.low_confidence,
            **(
                {"output_type": self.output_type} if self.output_type != "pdf" else {}
            ),  # digests of plain runs unchanged
        }
        blob = json.dumps(relevant, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class TrainConfig:
    """Options of `hcrbatch train` (character CNN)."""

    data: tuple[Path, ...]
    name: str = "charcnn"
    models_dir: Path = DEFAULT_MODELS_DIR
    work_dir: Path = Path(".train")
    epochs: int = 12
    batch_size: int = 128
    learning_rate: float = 1e-3
    # plateau: cut by 0.3 when validation stalls; cosine: falls to zero over `epochs`. Plateau rebuilds
    # the shipped model; cosine read held-out glyphs better but pages worse (benchmarks/log/)
    schedule: Literal["cosine", "plateau"] = "plateau"
    seed: int = 0
    split_seed: int = 0  # the held-out ByClass rows: fixed, so every model and the GAN avoid the same rows
    test_fraction: float = 0.1
    font_samples: int = 300  # renderings per class from handwriting fonts; 0 turns fonts off
    page_glyphs: int = 40  # pages written with the training glyphs and cut by the segmenter (train/pageglyphs.py)
    page_glyph_text: Literal["prose", "class-mix"] = "class-mix"  # what those pages say (pageglyphs.page_glyphs)
    punctuation: str = ".,-':;()/?!&\""
    patience: int = 3
    transposed: bool = False  # EMNIST files straight from NIST, stored column-major
    limit: int = 0  # use at most this many training rows (0 = all), for quick runs
    elastic_alpha: float = 0.0  # elastic distortion of every training glyph, besides the affine warps (0: none)
    balance: Literal["none", "gan"] = "none"  # "gan": top up classes under `balance_to` with generated glyphs
    balance_to: int = 0  # rows per class after top-up; 0: the mean count per class
    gan: str = "chargan"  # generator in models_dir used by balance="gan"
    gan_judge: str = ""  # a character model in models_dir that must read a generated glyph as its class
    overwrite: bool = False  # replace a model of the same name (modelstore.refuse_to_replace)


@dataclass(frozen=True)
class GanConfig:
    """Options of `hcrbatch gan train`; the data options mean what they mean for `hcrbatch train`."""

    data: tuple[Path, ...]
    name: str = "chargan"
    models_dir: Path = DEFAULT_MODELS_DIR
    work_dir: Path = Path(".train")
    epochs: int = 30
    steps_per_epoch: int = 300
    batch_size: int = 64
    seed: int = 0
    font_samples: int = 300
    transposed: bool = False
    limit: int = 0
    overwrite: bool = False

    def data_config(self) -> TrainConfig:
        """The recognizer's data options, so the GAN reads the same rows and never its held-out ones;
        no page glyphs: the generator learns a character's shape, not what a page does to it."""
        return TrainConfig(
            data=self.data,
            seed=self.seed,
            font_samples=self.font_samples,
            page_glyphs=0,
            transposed=self.transposed,
            limit=self.limit,
        )


@dataclass(frozen=True)
class LineTrainConfig:
    """Options of `hcrbatch train-lines` (the CTC line recognizer)."""

    data: tuple[Path, ...] = ()
    name: str = "lines"
    models_dir: Path = DEFAULT_MODELS_DIR
    work_dir: Path = Path(".train")
    head: Literal["conv", "lstm", "lstm2"] = "conv"
    epochs: int = 60
    batch_size: int = 16
    learning_rate: float = 1e-3
    seed: int = 0
    split_seed: int = 0  # which pages are held out: fixed, so every line model is tested on the same pages
    test_fraction: float = 0.1
    patience: int = 8
    # cosine: the learning rate falls to zero over `epochs` (the most of a fixed budget);
    # plateau: cut by 0.3 after patience/2 epochs without progress
    schedule: Literal["cosine", "plateau"] = "cosine"
    limit: int = 0  # use at most this many training lines (0 = all), for quick runs
    synthetic: int = 0  # lines rendered from handwriting fonts added to training (train/synthlines.py)
    init_from: str = ""  # start from this trained line model in `models_dir` (fine-tuning), not from random weights
    # also train on the crops our segmentation cuts from the training pages (train/linepages.py)
    page_crops: bool = False
    elastic_alpha: float = 0.0  # elastic distortion of training lines, strength drawn from [0, this] per line (0: none)
    vertical_jitter: float = 0.0  # writing scaled in height and moved by up to this share of the line (0: none)
    overwrite: bool = False


@dataclass(frozen=True)
class CharLmTrainConfig:
    """Options of `hcrbatch train-charlm` (the line engine's character language model)."""

    data: tuple[Path, ...]
    name: str
    models_dir: Path = DEFAULT_MODELS_DIR
    order: int = 6  # the most the KenLM that flashlight-text bundles reads
    min_count: int = 2  # n-grams of order 3 and up seen fewer times are left out
    line_model: str = "lines"  # whose held-out pages are left out
    exclude: tuple[str, ...] = ()  # more pages (image file stems) to leave out, e.g. a tuning split
    overwrite: bool = False


@dataclass(frozen=True)
class LineFinderTrainConfig:
    """Options of `hcrbatch train-line-finder` (the learned line density)."""

    data: tuple[Path, ...]  # folders of page images with PAGE or ALTO beside them
    name: str = SegmentConfig.line_finder
    models_dir: Path = DEFAULT_MODELS_DIR
    work_dir: Path = Path(".train/linefinder")  # prepared pages and the resumable training's backup
    line_model: str = "lines"  # whose held-out pages are never trained on (they are the test pages)
    epochs: int = 16
    steps_per_epoch: int = 100
    batch_size: int = 16
    learning_rate: float = 2e-3
    workers: int = 2  # processes preparing the pages
    seed: int = 0
    overwrite: bool = False


@dataclass(frozen=True)
class LineKindTrainConfig:
    """Options of `hcrbatch train-line-kind` (the print-or-handwriting line classifier)."""

    data: tuple[Path, ...]  # real handwritten lines: line folders (labels.tsv) or transcribed pages
    name: str = "linekind"
    models_dir: Path = DEFAULT_MODELS_DIR
    line_model: str = "lines"  # whose held-out pages are kept out of training (they are the test lines)
    print_lines: int = 6000
    synthetic_lines: int = 3000  # handwriting rendered in handwriting fonts
    epochs: int = 6
    batch_size: int = 64
    learning_rate: float = 1e-3
    # the least mean character confidence of Tesseract's reading for `auto` to keep it
    # (benchmarks/line_kinds.py measures Tesseract's confidence on print and on handwriting)
    tesseract_min_confidence: float = 0.8
    # the least for a line the classifier doubts (above `consider_threshold`, chosen in training)
    tesseract_sure_confidence: float = 0.9
    # above this, a line called print that Tesseract reads less surely is contested against the line
    # engine's reading (`engines.AutoEngine`): the most Tesseract's words reach on real handwriting
    tesseract_contest_confidence: float = 0.4
    seed: int = 0
    overwrite: bool = False
    retune: bool = False  # keep the trained model; choose its threshold again on the validation lines
