"""The line engine's character language model: tune its beam search on training pages, measure it on held-out ones.

    .venv/bin/python benchmarks/char_lm.py [--collections hooker,cremma] [--write] [--record]

For each collection (Hooker: en, CREMMA: fr):

- Tuning: a seeded tenth of the line model's training pages is set aside as a validation split. A
  language model trained on the other training pages (`hcrbatch train-charlm --exclude`) decodes the
  validation pages' transcribed line images (../shared/data/<collection>-lines) under a grid of
  (weight, space score); the setting with the lowest best-path CER wins. The line model has trained
  on these lines, so it is surer of them than of new ones, and the weight chosen errs low.
- Held-out: the shipped model `charlm-<lang>` (trained on all training pages) with the tuned setting
  against best-path decoding on the held-out pages' lines: CER and WER of the raw reading and after
  the lexicon's choice among each word's spellings, and milliseconds per line of decoding.

- Language choice: with `--char-lm auto` every installed model competes for each page; how often the
  held-out pages choose their own language's model, and the CER with the other model instead.

`--write` puts the tuned setting into models/charlm-<lang>.json ("search").
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from hcrbatch.config import CharLmTrainConfig, PreprocessConfig, RecognizeConfig
from hcrbatch.correct import LexiconCorrector
from hcrbatch.ctcdecode import LmBeamDecoder, LmSearch, choose_decoding
from hcrbatch.elements import BBox, PageImage
from hcrbatch.lineengine import (
    LINE_HEIGHT,
    LineRecognizer,
    line_probabilities,
    line_readings,
    normalise_line,
    words_from_alignment,
)
from hcrbatch.modelstore import load_manifest, manifest_path
from hcrbatch.preprocess import preprocess
from hcrbatch.train.charlm import train_char_lm, with_search
from hcrbatch.train.linedata import LineSample, read_line_folder

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import record  # noqa: E402
from run import ErrorCount  # noqa: E402

DATA = HERE.parent.parent / "shared" / "data"
COLLECTIONS = {"hooker": "en", "cremma": "fr"}
WEIGHTS = (0.0, 0.4, 0.6, 0.8, 1.0, 1.3)
SPACE_SCORES = (0.0, 1.0, 2.0, 3.0)
VALIDATION_SEED = 1


def validation_pages(training_pages: list[str]) -> set[str]:
    order = np.random.default_rng(VALIDATION_SEED).permutation(len(training_pages))
    return {training_pages[i] for i in order[: max(1, len(training_pages) // 10)]}


class Lines:
    """Line images read once by the line model; decoded and scored under any language model setting."""

    def __init__(self, reader: LineRecognizer, samples: list[LineSample]) -> None:
        self.reader, self.samples = reader, samples
        images = [normalise_line(s.image) for s in samples]
        self.probs = line_probabilities(reader._predict, images, 64)
        self.blank = preprocess(PageImage(None, 0, np.full((64, 64), 255, np.uint8), 300.0), PreprocessConfig())

    def score(self, decoder: LmBeamDecoder | None, lexicon: LexiconCorrector | None = None) -> tuple[ErrorCount, float]:
        """(errors, ms of decoding per line) of the raw reading, or of the lexicon's choice, each line
        decoded as the line engine decodes it (`lineengine.line_readings`)."""
        errors, seconds = ErrorCount(), 0.0
        charset = self.reader.manifest.charset
        for sample, probs in zip(self.samples, self.probs):
            started = time.perf_counter()
            reading = line_readings([probs], charset, 5, [decoder.path(probs)] if decoder else None)[0]
            seconds += time.perf_counter() - started
            height, width = sample.image.shape
            words = words_from_alignment(reading, BBox(0, 0, width, height), LINE_HEIGHT / height, self.blank)
            errors.add(sample.text, " ".join((lexicon.correct_word(w).text if lexicon else w.raw_text) for w in words))
        return errors, 1000 * seconds / max(1, len(self.samples))


def tune(collection: str, lang: str, reader: LineRecognizer, models_dir: Path) -> tuple[LmSearch, str]:
    """The best (weight, space score) on the validation split, and the grid as a table."""
    held = {p.rsplit("/", 1)[-1] for p in reader.manifest.extra["held_out_pages"]}
    pages = sorted({p.stem for p in (DATA / f"{collection}-pages").glob("*.xml")} - held)
    validation = validation_pages(pages)
    with tempfile.TemporaryDirectory() as tmp:
        for file in (manifest_path(models_dir, "lines"), reader.manifest.weights):
            (Path(tmp) / file.name).symlink_to(file.resolve())
        path = train_char_lm(
            CharLmTrainConfig(
                data=(DATA / f"{collection}-pages",),
                name="tuning",
                models_dir=Path(tmp),
                exclude=tuple(sorted(validation)),
            )  # fmt: skip
        )
        base = LmBeamDecoder(load_manifest(path.parent, "tuning"), reader.manifest.charset)
    samples = [s for s in read_line_folder(DATA / f"{collection}-lines") if s.page.split("/", 1)[1] in validation]
    lines = Lines(reader, samples)
    rows, best = [], None
    best_path, _ = lines.score(None)
    rows.append(f"| {collection} | best path | | {best_path.cer:.2%} | {best_path.wer:.2%} |")
    for weight, space in itertools.product(WEIGHTS, SPACE_SCORES):
        search = replace(base.search, weight=weight, space_score=space)
        errors, _ = lines.score(base.with_search(search))
        rows.append(f"| {collection} | {weight:g} | {space:g} | {errors.cer:.2%} | {errors.wer:.2%} |")
        print(rows[-1], flush=True)
        if best is None or errors.cer < best[0]:
            best = (errors.cer, search)
    header = f"{len(samples)} validation lines of {len(validation)} training pages (seed {VALIDATION_SEED})\n\n"
    header += "| collection | weight | space score | CER | WER |\n|---|---|---|---|---|\n"
    return best[1], header + "\n".join(rows)


def held_out(collection: str, lang: str, reader: LineRecognizer, decoder: LmBeamDecoder) -> list[str]:
    held = {p.rsplit("/", 1)[-1] for p in reader.manifest.extra["held_out_pages"]}
    samples = [s for s in read_line_folder(DATA / f"{collection}-lines") if s.page.split("/", 1)[1] in held]
    lines = Lines(reader, samples)
    lexicon = LexiconCorrector(lang)
    rows = []
    for name, dec in (("best path", None), (f"{decoder.manifest.name} {decoder.search}", decoder)):
        raw, ms = lines.score(dec)
        corrected, _ = lines.score(dec, lexicon)
        rows.append(
            f"| {collection} | {len(samples)} | {name} | {raw.cer:.2%} | {raw.wer:.2%} | {corrected.cer:.2%} | "
            f"{corrected.wer:.2%} | {ms:.1f} |"
        )
        print(rows[-1], flush=True)
    return rows


def language_choice(reader: LineRecognizer, models_dir: Path) -> str:
    """`--char-lm auto` on each held-out page: which installed model the page's own lines choose
    (`ctcdecode.choose_decoding`), and the CER of that choice against reading every page with the
    other collection's model (a `--lang` that does not match the pages)."""
    held = {p.rsplit("/", 1)[-1] for p in reader.manifest.extra["held_out_pages"]}
    decoders = {lang: LmBeamDecoder(load_manifest(models_dir, f"charlm-{lang}"), reader.manifest.charset)
                for lang in COLLECTIONS.values()}  # fmt: skip
    rows = []
    for collection, lang in COLLECTIONS.items():
        samples = [s for s in read_line_folder(DATA / f"{collection}-lines") if s.page.split("/", 1)[1] in held]
        lines = Lines(reader, samples)
        pages: dict[str, list[int]] = {}
        for i, sample in enumerate(samples):
            pages.setdefault(sample.page, []).append(i)
        chosen, right = ErrorCount(), 0
        for rows_of_page in pages.values():
            decoder, paths = choose_decoding([lines.probs[i] for i in rows_of_page], list(decoders.values()))
            right += decoder is decoders[lang]
            for i, path in zip(rows_of_page, paths):
                reading = line_readings([lines.probs[i]], reader.manifest.charset, 5, [path])[0]
                height, width = samples[i].image.shape
                words = words_from_alignment(reading, BBox(0, 0, width, height), LINE_HEIGHT / height, lines.blank)
                chosen.add(samples[i].text, " ".join(w.raw_text for w in words))
        other = next(d for other_lang, d in decoders.items() if other_lang != lang)
        wrong, _ = lines.score(other)
        rows.append(
            f"| {collection} | {right} of {len(pages)} | {chosen.cer:.2%} | {other.manifest.name}: {wrong.cer:.2%} |"
        )
        print(rows[-1], flush=True)
    return (
        "`--char-lm auto`, each held-out page choosing its model:\n\n"
        "| collection | pages read with their language's model | CER of the choice | CER with the other model |\n"
        "|---|---|---|---|\n" + "\n".join(rows)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collections", default=",".join(COLLECTIONS))
    parser.add_argument("--models-dir", type=Path, default=RecognizeConfig.models_dir)
    parser.add_argument("--write", action="store_true", help="put the tuned setting into models/charlm-LANG.json")
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--held-out-only", action="store_true", help="no tuning: the shipped models' own settings")
    args = parser.parse_args()
    cfg = RecognizeConfig(models_dir=args.models_dir, char_lm="none")
    reader = LineRecognizer(load_manifest(args.models_dir, cfg.line_model), cfg)
    tables, results = [], []
    for collection in args.collections.split(","):
        lang = COLLECTIONS[collection]
        search = None
        if not args.held_out_only:
            search, table = tune(collection, lang, reader, args.models_dir)
            tables.append(table)
            if args.write:
                with_search(manifest_path(args.models_dir, f"charlm-{lang}"), search)
        decoder = LmBeamDecoder(load_manifest(args.models_dir, f"charlm-{lang}"), reader.manifest.charset, search)
        results += held_out(collection, lang, reader, decoder)
    header = (
        "| collection | held-out lines | decoding | CER raw | WER raw | CER lexicon | WER lexicon | ms per line |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    body = "\n\n".join(tables) + "\n\nHeld-out pages' lines:\n\n" + header + "\n" + "\n".join(results)
    body += "\n\n" + language_choice(reader, args.models_dir)
    print(body)
    if args.record:
        record(" ".join(["python benchmarks/char_lm.py", *sys.argv[1:]]), body)


if __name__ == "__main__":
    main()
