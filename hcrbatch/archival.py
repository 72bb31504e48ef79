"""The formats archives ingest, read only from PageResult: ALTO 4, PAGE 2019 and hOCR.

All three carry the same reading: lines in reading order, each with its box, a straight baseline
fitted to its letters (`render.fitted_baseline`, the one the PDF text layer sits on), its words with
their boxes and confidences (a word's `Word.confidence`: calibrated where its model is) and, where the recognizer gave
them, its characters with their own confidences and next-best readings. Where the corrector changed
a word, the raw reading is kept beside it (ALTO `ALTERNATIVE`, PAGE a second `TextEquiv`); hOCR has
no standard place for it and carries the corrected text only.

Lines are one text block per page: the segmenter finds lines, not regions. Coordinates are pixels
of the page image as decoded (PDF pages at the run's `--dpi`).

ALTO and hOCR hold a document per file, a page element per page. PAGE holds one page per file
(its schema allows no more): `<stem>.page.xml` for a one-page input, `<stem>.NNNN.page.xml`
(1-based) per page otherwise, as Transkribus keeps a file per page image.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from hcrbatch.atomic import atomic_write_bytes
from hcrbatch.elements import BBox, DocumentInfo, Line, PageResult, Word
from hcrbatch.render import baseline_ends, fitted_baseline, upright

ALTO_NS = "http://www.loc.gov/standards/alto/ns-v4#"
ALTO_SCHEMA = "http://www.loc.gov/standards/alto/v4/alto-4-2.xsd"
PAGE_NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
PAGE_SCHEMA = f"{PAGE_NS}/pagecontent.xsd"
XHTML_NS = "http://www.w3.org/1999/xhtml"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
MIN_VARIANT = 0.01  # a character's next-best readings less likely than this are left out


def page_xml_paths(base: Path, pages: int) -> list[Path]:
    """The PAGE files of a document with `pages` pages, `base` its output path without suffix."""
    if pages == 1:
        return [base.with_name(base.name + ".page.xml")]
    return [base.with_name(f"{base.name}.{n:04d}.page.xml") for n in range(1, pages + 1)]


def _confidence(value: float) -> str:
    return f"{min(max(value, 0.0), 1.0):.4f}"


def _rectangle(box: BBox) -> str:
    """A box as a closed outline, corners clockwise from top-left, in PAGE's "x,y x,y" form."""
    return f"{box.left},{box.top} {box.right},{box.top} {box.right},{box.bottom} {box.left},{box.bottom}"


def _baseline(line: Line, page: PageResult) -> str:
    """The line's fitted baseline from where its writing starts to where it ends, as "x,y x,y"."""
    return " ".join(f"{round(x)},{round(y)}" for x, y in baseline_ends(line, page.width, page.height))


def _text_lines(page: PageResult) -> list[Line]:
    return [line for line in page.lines if line.words]


def _blocks(page: PageResult) -> list[tuple[int, list[Line]]]:
    """The page's lines with words, grouped by the way they run (`Line.turned`): the lines across the
    page first, then each sideways group, as quarter turns clockwise that bring each upright."""
    lines = _text_lines(page)
    return [(q, group) for q in (0, 1, 2, 3) if (group := [ln for ln in lines if ln.turned % 4 == q])]


def _document_bytes(root) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# ALTO 4 ------------------------------------------------------------------------------------------


def _element(namespace: str, tag: str, parent, attrs: dict[str, str]):
    """A child `tag` of `parent` in `namespace`, with these attributes."""
    element = etree.SubElement(parent, f"{{{namespace}}}{tag}")
    for key, value in attrs.items():
        element.set(key, value)
    return element


def _alto(tag: str, parent, **attrs):
    return _element(ALTO_NS, tag, parent, attrs)


def _alto_box(element, box: BBox):
    for key, value in (("HPOS", box.left), ("VPOS", box.top), ("WIDTH", box.width), ("HEIGHT", box.height)):
        element.set(key, str(value))
    return element


def alto_document(results: list[PageResult], info: DocumentInfo) -> bytes:
    root = etree.Element(f"{{{ALTO_NS}}}alto", nsmap={None: ALTO_NS, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", f"{ALTO_NS} {ALTO_SCHEMA}")
    description = _alto("Description", root)
    _alto("MeasurementUnit", description).text = "pixel"
    _alto("fileName", _alto("sourceImageInformation", description)).text = info.source
    processing = _alto("Processing", description, ID="processing_1")
    _alto("processingDateTime", processing).text = info.created
    software = _alto("processingSoftware", processing)
    name, _, version = info.software.partition(" ")
    _alto("softwareName", software).text = name
    _alto("softwareVersion", software).text = version
    _alto("applicationDescription", software).text = "models: " + ", ".join(info.models)
    layout = _alto("Layout", root)
    for page in results:
        number = page.index + 1
        alto_page = _alto("Page", layout, ID=f"page_{number}", PHYSICAL_IMG_NR=str(number),
                          WIDTH=str(page.width), HEIGHT=str(page.height), PROCESSINGREFS="processing_1")  # fmt: skip
        space = _alto_box(_alto("PrintSpace", alto_page), BBox(0, 0, page.width, page.height))
        n = 0
        for k, (quarters, lines) in enumerate(_blocks(page), 1):
            block = _alto_box(
                _alto("TextBlock", space, ID=f"p{number}_b{k}"), BBox.enclosing([ln.bbox for ln in lines])
            )
            if quarters:  # ALTO's ROTATION: of the block's content, in degrees counter-clockwise
                block.set("ROTATION", str(90 * quarters))
            for line in lines:
                n += 1
                _alto_line(block, line, f"p{number}_l{n}", page)
        for n, stamp in enumerate(page.stamps, 1):
            _alto_box(_alto("Illustration", space, ID=f"p{number}_s{n}", TYPE="stamp"), stamp)
    return _document_bytes(root)


def _alto_line(block, line: Line, line_id: str, page: PageResult) -> None:
    element = _alto_box(_alto("TextLine", block, ID=line_id, BASELINE=_baseline(line, page)), line.bbox)
    _alto("Polygon", _alto("Shape", element), POINTS=_rectangle(line.bbox))
    for n, word in enumerate(line.words, 1):
        if n > 1:
            before = line.words[n - 2].bbox.right
            _alto_box(_alto("SP", element), BBox(before, word.bbox.top, max(word.bbox.left, before), word.bbox.bottom))
        string = _alto_box(_alto("String", element, ID=f"{line_id}_w{n}", CONTENT=word.text), word.bbox)
        if word.chars:
            string.set("WC", _confidence(word.confidence))
        if word.corrected_by and word.raw_text != word.text:
            _alto("ALTERNATIVE", string, PURPOSE="recognition before correction").text = word.raw_text
        for k, char in enumerate(word.chars, 1):
            glyph = _alto_box(_alto("Glyph", string, ID=f"{line_id}_w{n}_c{k}", CONTENT=char.text), char.bbox)
            glyph.set("GC", _confidence(char.confidence))
            for label, prob in zip(char.labels[1:], char.probs[1:]):
                if prob >= MIN_VARIANT:
                    _alto("Variant", glyph, CONTENT=label, VC=_confidence(prob))


# PAGE 2019 ---------------------------------------------------------------------------------------


def _pc(tag: str, parent, **attrs):
    return _element(PAGE_NS, tag, parent, attrs)


def _text_equiv(parent, text: str, conf: float | None = None, index: int | None = None) -> None:
    equiv = _pc("TextEquiv", parent)
    if index is not None:
        equiv.set("index", str(index))
    if conf is not None:
        equiv.set("conf", _confidence(conf))
    _pc("Unicode", equiv).text = text


def page_xml_document(page: PageResult, info: DocumentInfo) -> bytes:
    root = etree.Element(f"{{{PAGE_NS}}}PcGts", nsmap={None: PAGE_NS, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", f"{PAGE_NS} {PAGE_SCHEMA}")
    metadata = _pc("Metadata", root)
    _pc("Creator", metadata).text = f"{info.software} ({', '.join(info.models)})"
    _pc("Created", metadata).text = info.created
    _pc("LastChange", metadata).text = info.created
    element = _pc("Page", root, imageFilename=info.source, imageWidth=str(page.width), imageHeight=str(page.height))
    blocks = _blocks(page)
    if blocks:
        group = _pc("OrderedGroup", _pc("ReadingOrder", element), id="reading_order")
    order = 0
    for k, (quarters, lines) in enumerate(blocks, 1):
        _pc("RegionRefIndexed", group, index=str(k - 1), regionRef=f"r{k}")
        region = _pc("TextRegion", element, id=f"r{k}", type="paragraph")
        if quarters:  # PAGE's orientation: the clockwise turn that brings the region upright
            region.set("orientation", str(90 * quarters if quarters < 3 else -90))
        _pc("Coords", region, points=_rectangle(BBox.enclosing([ln.bbox for ln in lines])))
        for n, line in enumerate(lines, 1):
            _page_line(region, line, f"r{k}_l{n}", order, page)
            order += 1
        _text_equiv(region, "\n".join(line.text for line in lines))
    for n, stamp in enumerate(page.stamps, 1):
        _pc("Coords", _pc("GraphicRegion", element, id=f"s{n}", type="stamp"), points=_rectangle(stamp))
    return _document_bytes(root)


def _page_line(region, line: Line, line_id: str, order: int, page: PageResult) -> None:
    """A TextLine; `custom` says its place in reading order (as Transkribus writes it) and the engine that read it."""
    probability = line.evidence.print_probability
    kind = "" if probability is None else f" printProbability:{probability:.4f};"
    custom = f"readingOrder {{index:{order};}} recognition {{engine:{line.engine};{kind}}}"
    element = _pc("TextLine", region, id=line_id, custom=custom)
    _pc("Coords", element, points=_rectangle(line.bbox))
    _pc("Baseline", element, points=_baseline(line, page))
    for n, word in enumerate(line.words, 1):
        _page_word(element, word, f"{line_id}_w{n}")
    words = [w.confidence for w in line.words if w.chars]
    _text_equiv(element, line.text, sum(words) / len(words) if words else None)


def _page_word(line, word: Word, word_id: str) -> None:
    element = _pc("Word", line, id=word_id)
    _pc("Coords", element, points=_rectangle(word.bbox))
    for k, char in enumerate(word.chars, 1):
        glyph = _pc("Glyph", element, id=f"{word_id}_c{k}")
        _pc("Coords", glyph, points=_rectangle(char.bbox))
        for index, (label, prob) in enumerate(zip(char.labels, char.probs), 1):
            if index == 1 or prob >= MIN_VARIANT:
                _text_equiv(glyph, label, prob, index)
    confidence = word.confidence if word.chars else None
    if word.corrected_by and word.raw_text != word.text:
        _text_equiv(element, word.text, confidence, 1)
        _text_equiv(element, word.raw_text, word.mean_confidence, 2)
    else:
        _text_equiv(element, word.text, confidence)


# hOCR --------------------------------------------------------------------------------------------


def _span(parent, css: str, element_id: str, title: str, tag: str = "span"):
    element = etree.SubElement(parent, f"{{{XHTML_NS}}}{tag}")
    element.set("class", css)
    element.set("id", element_id)
    element.set("title", title)
    return element


def _bbox(box: BBox) -> str:
    return f"bbox {box.left} {box.top} {box.right} {box.bottom}"


def hocr_document(results: list[PageResult], info: DocumentInfo) -> bytes:
    """hOCR 1.2: `ocr_page` > `ocr_carea` > `ocr_par` > `ocr_line` > `ocrx_word` with `x_wconf` (0–100)."""
    html = etree.Element(f"{{{XHTML_NS}}}html", nsmap={None: XHTML_NS})
    head = etree.SubElement(html, f"{{{XHTML_NS}}}head")
    etree.SubElement(head, f"{{{XHTML_NS}}}title").text = info.source
    for name, content in (
        ("ocr-system", info.software),
        ("ocr-capabilities", "ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf"),
        ("ocr-number-of-pages", str(len(results))),
    ):
        meta = etree.SubElement(head, f"{{{XHTML_NS}}}meta")
        meta.set("name", name)
        meta.set("content", content)
    body = etree.SubElement(html, f"{{{XHTML_NS}}}body")
    for page in results:
        number = page.index + 1
        title = f'image "{info.source}"; {_bbox(BBox(0, 0, page.width, page.height))}; ppageno {page.index}'
        title += f"; scan_res {round(page.dpi)} {round(page.dpi)}"
        element = _span(body, "ocr_page", f"page_{number}", title, "div")
        n = 0
        for k, (_, lines) in enumerate(_blocks(page), 1):
            box = _bbox(BBox.enclosing([ln.bbox for ln in lines]))
            area = _span(element, "ocr_carea", f"block_{number}_{k}", box, "div")
            paragraph = _span(area, "ocr_par", f"par_{number}_{k}", box, "p")
            for line in lines:
                n += 1
                _hocr_line(paragraph, line, f"{number}_{n}", page)
    doctype = (
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">'
    )
    return etree.tostring(html, xml_declaration=True, encoding="UTF-8", pretty_print=True, doctype=doctype)


def _hocr_line(paragraph, line: Line, line_id: str, page: PageResult) -> None:
    """An `ocr_line` with its words; a sideways line's `textangle` (counter-clockwise) and its
    baseline measured on it turned upright, as hOCR's baseline is of the line as it is read."""
    level, _, _ = upright(line, page.width, page.height)
    slope, intercept = fitted_baseline(level)  # + 0.0 below: a level line's slope is not "-0.0000"
    offset = intercept + slope * level.bbox.left - level.bbox.bottom
    title = f"{_bbox(line.bbox)}; baseline {round(slope, 4) + 0.0:.4f} {round(offset)}"
    if line.turned % 4:
        title += f"; textangle {90 * (line.turned % 4)}"
    element = _span(paragraph, "ocr_line", f"line_{line_id}", title)
    for k, word in enumerate(line.words, 1):
        confidence = round(100 * word.confidence) if word.chars else 0
        span = _span(element, "ocrx_word", f"word_{line_id}_{k}", f"{_bbox(word.bbox)}; x_wconf {confidence}")
        span.text = word.text
        span.tail = " "


def write_alto(path: Path, results: list[PageResult], info: DocumentInfo) -> None:
    atomic_write_bytes(path, alto_document(results, info))


def write_hocr(path: Path, results: list[PageResult], info: DocumentInfo) -> None:
    atomic_write_bytes(path, hocr_document(results, info))


def write_page_xml(paths: list[Path], results: list[PageResult], info: DocumentInfo) -> None:
    for path, page in zip(paths, results, strict=True):
        atomic_write_bytes(path, page_xml_document(page, info))
