"""Engines behind one interface: the registry, the Tesseract engine, and auto's printed lines."""

import csv
import subprocess

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw, ImageFont

from conftest import write_png
from hcrbatch.cli import cli
from hcrbatch.config import Config, RecognizeConfig
from hcrbatch.elements import BBox, Char, Line, PageResult, Word
from hcrbatch.engines import ENGINES, EngineSpec, PrintedLines, engine_digest, make_engine
from hcrbatch.errors import ConfigError
from hcrbatch.pipeline import run_batch
from hcrbatch.tesseract import TesseractReader, tesseract_available

SERIF = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"
MONO = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
SCRIPT = "/usr/share/fonts/opentype/dancingscript/DancingScript-Regular.otf"
FREEMONO = "/usr/share/fonts/truetype/freefont/FreeMono.ttf"
needs_tesseract = pytest.mark.skipif(not tesseract_available("en"), reason="Tesseract's English data not installed")


def typed_page(lines: list[tuple[str, str, int]], size=(1700, 1100)) -> tuple[np.ndarray, list[BBox]]:
    """A white page with each (text, font file, size) on a line of its own, and each line's ink box."""
    page = Image.new("L", size, 255)
    draw = ImageDraw.Draw(page)
    boxes, y = [], 80
    for text, font_path, points in lines:
        font = ImageFont.truetype(font_path, points)
        draw.text((100, y), text, font=font, fill=20)
        boxes.append(BBox(*draw.textbbox((100, y), text, font=font)))
        y += int(points * 2.2)
    return np.asarray(page), boxes


def cleaned(tmp_path, lines: list[tuple[str, str, int]], lean: float = 0.0):
    """`typed_page`'s lines, leaning by `lean` (columns per row, as handwriting leans), cleaned as `run`
    cleans a page."""
    from hcrbatch.config import PreprocessConfig
    from hcrbatch.elements import PageImage
    from hcrbatch.preprocess import preprocess

    pixels, _ = typed_page(lines)
    if lean:
        transform = (1, lean, -150, 0, 1, 0)
        pixels = np.asarray(
            Image.fromarray(pixels).transform(pixels.shape[::-1], Image.AFFINE, transform, fillcolor=255)
        )
    return preprocess(PageImage(tmp_path / "p.png", 0, pixels, 300), PreprocessConfig())


class BlankEngine:
    """An engine that reads every page as one line "blank": the pipeline, without any network."""

    models = ("blank 1",)

    def read(self, page):
        clean = page.clean
        word = Word(BBox(0, 0, 10, 10), (Char(BBox(0, 0, 10, 10), ("blank",), (1.0,)),), "blank")
        line = Line(BBox(0, 0, 10, 10), (word,), engine="blank")
        return PageResult(page.index, clean.page_width, clean.page_height, page.dpi, clean.skew_degrees, (line,))


def test_an_engine_registered_by_name_is_the_one_the_pipeline_runs(tmp_path, monkeypatch):
    monkeypatch.setitem(ENGINES, "blank", EngineSpec(lambda cfg, lang: [], lambda cfg, lang: BlankEngine()))
    write_png(tmp_path / "in" / "page.png", np.full((300, 400), 255, np.uint8))
    cfg = Config(tmp_path / "in", tmp_path / "out", workers=1, recognize=RecognizeConfig(engine="blank"))
    assert run_batch(cfg).counts["ok"] == 1
    assert (tmp_path / "out" / "page.txt").read_text(encoding="utf-8").strip() == "blank"
    assert "blank 1" in (tmp_path / "out" / "page.alto.xml").read_text(encoding="utf-8")  # its provenance


def test_a_model_is_taken_only_by_the_loader_of_its_task(tmp_path):
    import json
    import shutil

    from hcrbatch.engines import line_manifest
    from hcrbatch.errors import ModelError
    from hcrbatch.modelstore import GLYPH_CLASSIFIER, LINE_RECOGNIZER, load_manifest

    shipped = RecognizeConfig().models_dir
    for name in ("charcnn", "lines"):
        shutil.copy(shipped / f"{name}.json", tmp_path)
        (tmp_path / f"{name}.keras").write_bytes(b"weights")  # only looked at, not loaded
    with pytest.raises(ModelError, match="a line recognizer, not a glyph classifier"):
        load_manifest(tmp_path, "lines", GLYPH_CLASSIFIER)
    with pytest.raises(ModelError, match="a glyph classifier, not a line recognizer"):
        line_manifest(RecognizeConfig(models_dir=tmp_path, line_model="charcnn"))
    older = json.loads((tmp_path / "lines.json").read_text())
    del older["task"]  # a line model trained before manifests recorded their task
    (tmp_path / "lines.json").write_text(json.dumps(older))
    assert load_manifest(tmp_path, "lines", LINE_RECOGNIZER).task == LINE_RECOGNIZER


def test_an_unknown_engine_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown engine 'nope'"):
        make_engine(RecognizeConfig(engine="nope"), "en")


@needs_tesseract
def test_the_tesseract_engine_reads_a_typed_page_into_every_output(tmp_path):
    text = ["The quick brown fox jumps over", "the lazy dog on 12 March 1903."]
    pixels, boxes = typed_page([(t, SERIF, 44) for t in text])
    write_png(tmp_path / "in" / "letter.png", pixels, dpi=300)
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "in"), str(tmp_path / "out"), "-q", "--workers", "1",
                                      "--engine", "tesseract", "--formats", "pdf,csv,txt,alto"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output == ""
    assert (tmp_path / "out" / "letter.txt").read_text(encoding="utf-8").split() == " ".join(text).split()
    with open(tmp_path / "out" / "letter.csv", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert {row["engine"] for row in rows} == {"tesseract"}
    for row in rows:  # every word's box lies on its line's ink
        box = BBox(int(row["left"]), int(row["top"]), int(row["right"]), int(row["bottom"]))
        line = boxes[int(row["line"]) - 1]
        assert line.left - 3 <= box.left and box.right <= line.right + 3
        assert abs(box.center_y - line.center_y) < line.height / 2
    layer = subprocess.run(["pdftotext", str(tmp_path / "out" / "letter.pdf"), "-"], capture_output=True, text=True)
    assert layer.stdout.split() == " ".join(text).split()
    assert "tesseract" in (tmp_path / "out" / "letter.alto.xml").read_text(encoding="utf-8")


@needs_tesseract
def test_tesseract_reads_a_line_in_page_coordinates_with_its_confidence():
    pixels, boxes = typed_page([("Nothing above this line.", SERIF, 40), ("Dear Sir, I write to you", MONO, 40)])
    reader = TesseractReader("en")
    box = BBox(boxes[1].left - 10, boxes[1].top - 10, boxes[1].right + 10, boxes[1].bottom + 10)
    words, confidence = reader.read_line(pixels, box, 300)
    assert " ".join(w.text for w in words) == "Dear Sir, I write to you"
    assert confidence > 0.8
    assert all(box.left <= w.bbox.left and w.bbox.right <= box.right for w in words)


@needs_tesseract
def test_pages_read_by_threads_take_turns_with_the_one_tesseract_and_read_as_alone():
    from concurrent.futures import ThreadPoolExecutor

    texts = [
        ("Dear Sir, I write to you", MONO, 40),
        ("Nothing above this line.", SERIF, 40),
        ("Kew, 12 May 1881", SERIF, 44),
    ]
    pixels, boxes = typed_page(texts)
    reader = TesseractReader("en")
    lines = [BBox(b.left - 10, b.top - 10, b.right + 10, b.bottom + 10) for b in boxes]
    alone = [reader.read_line(pixels, box, 300) for box in lines]
    with ThreadPoolExecutor(3) as pool:  # Tesseract lets go of Python's lock while it reads
        together = list(pool.map(lambda box: reader.read_line(pixels, box, 300), lines * 4))
    assert [" ".join(w.text for w in words) for words, _ in together] == [
        " ".join(w.text for w in words) for words, _ in alone
    ] * 4
    assert [confidence for _, confidence in together] == [confidence for _, confidence in alone] * 4


@needs_tesseract
def test_tesseract_reads_a_scanned_line_cut_tight_to_its_ink():
    """Our segmenter's crops keep 2 px around the ink; Tesseract read such typed lines as garbage
    until it was given paper around them."""
    pixels, boxes = typed_page([("Herbarium for examination. The Director desires me", FREEMONO, 44)])
    scanned = cv2.GaussianBlur(pixels * 0.93 + np.random.default_rng(0).normal(0, 4, pixels.shape), (0, 0), 0.7)
    tight = BBox(boxes[0].left - 2, boxes[0].top - 2, boxes[0].right + 2, boxes[0].bottom + 2)
    words, confidence = TesseractReader("en").read_line(np.clip(scanned, 0, 255).astype(np.uint8), tight, 300)
    assert " ".join(w.text for w in words) == "Herbarium for examination. The Director desires me"
    assert confidence > 0.9
    assert all(tight.left <= w.bbox.left and w.bbox.right <= tight.right for w in words)
    assert all(tight.top <= w.bbox.top and w.bbox.bottom <= tight.bottom for w in words)


class CallsEverythingPrint:
    """A line-kind classifier that calls every line print, to test what guards against its errors."""

    print_threshold = 0.5
    tesseract_min_confidence = 0.6

    class manifest:  # noqa: N801 - the attributes a manifest gives
        name, version = "everything-print", "1"

    def print_probabilities(self, crops):
        return [1.0] * len(crops)

    def worth_reading(self, probability):
        return True

    def gives_tesseract(self, probability, confidence):
        return confidence >= self.tesseract_min_confidence

    def contests(self, probability, confidence):
        return confidence > 0.0


@needs_tesseract
def test_a_handwritten_line_called_print_stays_with_our_engines_where_tesseract_is_unsure(tmp_path):
    from hcrbatch.engines import EnginePage

    clean = cleaned(
        tmp_path, [("Received with many thanks", SERIF, 44), ("my dear friend, yours ever", SCRIPT, 60)], 0.3
    )
    probabilities, read, _ = PrintedLines(CallsEverythingPrint(), TesseractReader("en")).read(EnginePage(clean, 0, 300))
    assert probabilities == [1.0, 1.0]
    assert list(read) == [0]  # the script line, slanted, is not Tesseract's
    assert read[0].engine == "tesseract" and read[0].text == "Received with many thanks"


class RecordsWhatItReads:
    """A handwriting engine that reads each line it is given as "hand", and keeps how many it was given."""

    models = ("records 1",)

    def __init__(self) -> None:
        self.given: list[int] = []

    def read(self, page):
        self.given.append(len(page.segmentation.lines))
        word = Word(BBox(0, 0, 10, 10), (Char(BBox(0, 0, 10, 10), ("hand",), (0.5,)),), "hand")
        return page.empty_result(tuple(Line(line.bbox, (word,)) for line in page.segmentation.lines))


@needs_tesseract
def test_auto_reads_each_line_once_the_print_by_tesseract_alone(tmp_path):
    from hcrbatch.engines import AutoEngine, AutoRule, EnginePage

    clean = cleaned(
        tmp_path, [("Received with many thanks", SERIF, 44), ("my dear friend, yours ever", SCRIPT, 60)], 0.3
    )
    hand = RecordsWhatItReads()
    auto = AutoEngine(hand, None, AutoRule(), PrintedLines(CallsEverythingPrint(), TesseractReader("en")))
    result = auto.read(EnginePage(clean, 0, 300))
    assert hand.given == [1]  # the script line alone: the printed one was Tesseract's
    assert [line.engine for line in result.lines] == ["tesseract", "glyph"]
    assert [line.text for line in result.lines] == ["Received with many thanks", "hand"]
    assert [line.evidence.print_probability for line in result.lines] == [1.0, 1.0]

    auto.read(
        EnginePage(
            cleaned(tmp_path, [("Received with many thanks", SERIF, 44), ("Dear Sir, I write", MONO, 40)]), 0, 300
        )
    )
    assert hand.given == [1]  # a page all print: the handwriting engines are not run


class ReadsAs:
    """A handwriting engine that reads every line as `text`, its characters at `confidence`, as `engine`."""

    def __init__(self, engine: str, text: str, confidence: float) -> None:
        self.engine, self.text, self.confidence = engine, text, confidence
        self.models = (f"{engine} stand-in",)

    def read(self, page):
        box = BBox(0, 0, 10, 10)
        words = (Word(box, tuple(Char(box, (c,), (self.confidence,)) for c in self.text), self.text),)
        return page.empty_result(
            tuple(Line(line.bbox, words if self.text else (), self.engine) for line in page.segmentation.lines)
        )


@needs_tesseract
def test_print_tesseract_is_unsure_of_stays_tesseracts_where_the_line_engine_is_less_sure(tmp_path):
    from hcrbatch.engines import AutoEngine, AutoRule, EnginePage

    class UnsureOfAllPrint(CallsEverythingPrint):
        tesseract_min_confidence = 1.01  # Tesseract never sure enough alone: every line is contested

    clean = cleaned(tmp_path, [("Received with many thanks", SERIF, 44)])
    printed = PrintedLines(UnsureOfAllPrint(), TesseractReader("en"))
    line_alone = AutoRule(glyph_margin=1.0, joined_ink=0.0)  # a page of joined-up ink: the line engine's

    def read_by(engine) -> Line:
        auto = AutoEngine(ReadsAs("glyph", "glyph", 0.9), engine, line_alone, printed)
        return auto.read(EnginePage(clean, 0, 300)).lines[0]

    unsure = read_by(ReadsAs("line", "as to a", 0.2))
    assert unsure.engine == "tesseract" and unsure.text == "Received with many thanks"
    sure = read_by(ReadsAs("line", "Received", 0.99))  # surer than Tesseract: the line engine's
    assert sure.engine == "line" and sure.text == "Received"
    assert read_by(ReadsAs("line", "", 0.0)).text == ""  # our engines read nothing: a sliver stays empty
    glyph_page = AutoEngine(ReadsAs("glyph", "Recieved", 0.2), None, AutoRule(), printed)
    assert glyph_page.read(EnginePage(clean, 0, 300)).lines[0].text == "Recieved"  # the glyph engine keeps it


def test_auto_does_not_run_the_glyph_engine_on_a_page_its_ink_gives_wholly_to_the_line_engine(tmp_path):
    from hcrbatch.elements import Segmentation
    from hcrbatch.engines import AutoEngine, AutoRule, EnginePage

    clean = cleaned(tmp_path, [("my dear friend, yours ever", SCRIPT, 60)])
    glyph, line = RecordsWhatItReads(), RecordsWhatItReads()
    for joined, glyph_margin, glyph_reads in [(0.9, 1.0, []), (0.9, 0.5, [1]), (0.1, 1.0, [1])]:
        page = EnginePage(clean, 0, 300)
        page.__dict__["segmentation"] = Segmentation(page.segmentation.lines, page.segmentation.labels, joined)
        glyph.given.clear()
        AutoEngine(glyph, line, AutoRule(page_margin=0.0, glyph_margin=glyph_margin, joined_ink=0.5)).read(page)
        assert glyph.given == glyph_reads, (joined, glyph_margin)


@needs_tesseract
def test_the_engine_digest_names_the_tesseract_data():
    assert engine_digest(RecognizeConfig(engine="tesseract"), "en").startswith("tesseract:eng:")
    assert engine_digest(RecognizeConfig(engine="tesseract"), "fr") != engine_digest(
        RecognizeConfig(engine="tesseract"), "en"
    )


def test_tesseract_data_that_is_not_installed_names_the_package_to_install(monkeypatch, tmp_path):
    from hcrbatch.errors import ModelError
    from hcrbatch.tesseract import tessdata_dir

    monkeypatch.setattr("hcrbatch.tesseract.TESSDATA_GLOBS", (str(tmp_path / "none"),))
    monkeypatch.delenv("TESSDATA_PREFIX", raising=False)
    with pytest.raises(ModelError, match="apt-get install tesseract-ocr-xyz"):
        tessdata_dir("xyz")


@needs_tesseract
def test_the_tesseract_engine_loads_no_network(tmp_path):
    pixels, _ = typed_page([("Typed and nothing else", SERIF, 44)])
    write_png(tmp_path / "in" / "typed.png", pixels, dpi=300)
    (tmp_path / "no-models").mkdir()
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "in"), str(tmp_path / "out"), "-q", "--workers", "1",
                                      "--engine", "tesseract", "--models-dir", str(tmp_path / "no-models")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "typed.txt").read_text(encoding="utf-8").strip() == "Typed and nothing else"


@needs_tesseract
def test_auto_gives_printed_and_typed_lines_to_tesseract_and_handwriting_to_our_engines(tmp_path):
    """On the shipped models: a letterhead, a typed line and handwritten lines on one page."""
    lines = [
        ("ROYAL BOTANIC GARDENS, KEW", "/usr/share/fonts/truetype/freefont/FreeSerifBold.ttf", 56),
        ("Dear Sir, I am directed to acknowledge", FREEMONO, 44),
        ("with many thanks for the seeds", SCRIPT, 70),
        ("yours very truly, John", "/usr/share/fonts/truetype/kristi/Kristi.ttf", 80),
    ]
    pixels, _ = typed_page(lines, size=(1800, 900))
    write_png(tmp_path / "in" / "letter.png", pixels, dpi=300)
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "in"), str(tmp_path / "out"), "-q", "--workers", "1",
                                      "--formats", "csv,txt"])  # fmt: skip
    assert result.exit_code == 0, result.output
    with open(tmp_path / "out" / "letter.csv", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    by_line = {}
    for row in rows:
        by_line.setdefault(int(row["line"]), []).append(row)
    engines = [by_line[n][0]["engine"] for n in sorted(by_line)]
    assert engines[:2] == ["tesseract", "tesseract"] and "tesseract" not in engines[2:], engines
    assert " ".join(r["text"] for r in by_line[1]) == "ROYAL BOTANIC GARDENS, KEW"
    assert " ".join(r["text"] for r in by_line[2]) == "Dear Sir, I am directed to acknowledge"
    assert all(float(r["print_probability"]) < 0.5 for n in sorted(by_line)[2:] for r in by_line[n])


@needs_tesseract
def test_train_line_kind_writes_a_model_auto_can_load_and_retune_keeps_it(tmp_path):
    """A few minutes' recipe in miniature: rendered print against drawn 'handwritten' lines."""
    import cv2

    from hcrbatch.linekind import LineKindClassifier, line_kind_manifest

    folder = tmp_path / "hand"
    folder.mkdir()
    rows = []
    for page in range(6):
        for line in range(4):
            image = np.full((96, 700), 235, np.uint8)
            cv2.putText(image, f"word {page} {line} more", (20, 64), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.5, 30, 3)
            cv2.imwrite(str(folder / f"letter_{page:03d}_{line:03d}.jpg"), image)
            rows.append(f"letter_{page:03d}_{line:03d}.jpg\tword {page} {line} more")
    (folder / "labels.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    models = tmp_path / "models"
    args = ["train-line-kind", "--data", str(folder), "--models-dir", str(models), "--line-model", "",
            "--print-lines", "40", "--synthetic-lines", "10", "--epochs", "1", "-q"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    manifest = line_kind_manifest(models, "linekind")
    assert 0.5 <= manifest.extra["print_threshold"] <= 1.0 and manifest.extra["tesseract_min_confidence"] == 0.8
    assert manifest.extra["tesseract_contest_confidence"] == 0.4  # worn typescript contested (AutoEngine)
    assert set(manifest.metrics["test"]) == {
        "print_as_print", "print_as_handwriting", "handwriting_as_print", "handwriting_as_handwriting"
    }  # fmt: skip
    classifier = LineKindClassifier(manifest)
    assert len(classifier.print_probabilities([np.full((40, 300), 255, np.uint8)])) == 1
    weights = (models / "linekind.keras").read_bytes()
    assert CliRunner().invoke(cli, args).exit_code == 2  # never replaced without --overwrite
    retuned = CliRunner().invoke(cli, [*args, "--retune", "--tesseract-min-confidence", "0.7"])
    assert retuned.exit_code == 0, retuned.output
    assert (models / "linekind.keras").read_bytes() == weights  # the model kept, its threshold chosen again
    assert line_kind_manifest(models, "linekind").extra["tesseract_min_confidence"] == 0.7
