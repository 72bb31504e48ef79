"""ALTO 4, PAGE 2019 and hOCR outputs: valid against the official schemas (tests/schemas/, offline),
faithful to the reading, and read back by the project's own PAGE/ALTO reader."""

from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree

from hcrbatch.archival import (
    ALTO_NS,
    PAGE_NS,
    XHTML_NS,
    DocumentInfo,
    alto_document,
    hocr_document,
    page_xml_document,
    page_xml_paths,
)
from hcrbatch.elements import BBox, Char, Line, PageResult, Word
from hcrbatch.groundtruth import read_ground_truth

SCHEMAS = Path(__file__).parent / "schemas"
INFO = DocumentInfo("letter.png", "hcrbatch 0.1.0", ("lines 1", "charlm-en 1"), "2026-12-02T10:00:00Z")


class LocalSchemas(etree.Resolver):
    """ALTO imports the XLink schema from loc.gov; the tests use the copy beside it."""

    def resolve(self, url, pubid, context):
        if url.endswith("xlink.xsd"):
            return self.resolve_filename(str(SCHEMAS / "xlink.xsd"), context)
        return None


def schema(name: str) -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(LocalSchemas())
    return etree.XMLSchema(etree.parse(str(SCHEMAS / name), parser))


def assert_valid(xsd: str, document: bytes) -> etree._Element:
    root = etree.fromstring(document)
    checker = schema(xsd)
    assert checker.validate(root), checker.error_log
    return root


def word(text: str, left: int, top: int, raw: str = "", conf: float = 0.9) -> Word:
    raw = raw or text
    chars = tuple(
        Char(BBox(left + 20 * i, top, left + 20 * i + 18, top + 30), (c, "x"), (conf, 1 - conf))
        for i, c in enumerate(raw)
    )
    return Word(BBox(left, top, left + 20 * len(raw), top + 30), chars, text, "lexicon" if raw != text else "")


def page(index: int = 0) -> PageResult:
    first = Line(BBox(100, 100, 400, 130), (word("Dear", 100, 100), word("Sir", 200, 100, raw="Sil", conf=0.5)), "line")
    second = Line(BBox(100, 160, 400, 190), (word("yours", 100, 160), word("&c", 240, 160)), "glyph")
    empty = Line(BBox(100, 220, 140, 240), (), "line")
    return PageResult(index, 1000, 800, 200.0, 0.0, (first, second, empty))


def test_alto_is_valid_alto_4_and_carries_words_confidences_glyphs_and_the_raw_reading():
    root = assert_valid("alto-4-2.xsd", alto_document([page()], INFO))
    ns = {"a": ALTO_NS}
    assert root.findtext(".//a:sourceImageInformation/a:fileName", namespaces=ns) == "letter.png"
    assert "charlm-en 1" in root.findtext(".//a:applicationDescription", namespaces=ns)
    strings = root.findall(".//a:String", ns)
    assert [s.get("CONTENT") for s in strings] == ["Dear", "Sir", "yours", "&c"]
    assert strings[1].get("WC") == "0.5000" and strings[1].findtext("a:ALTERNATIVE", namespaces=ns) == "Sil"
    assert [g.get("CONTENT") for g in strings[1].findall("a:Glyph", ns)] == ["S", "i", "l"]
    assert strings[1].find("a:Glyph/a:Variant", ns).get("CONTENT") == "x"
    lines = root.findall(".//a:TextLine", ns)
    assert len(lines) == 2 and lines[0].get("BASELINE") == "100,130 400,130"  # the empty line is left out
    assert len(lines[0].findall("a:SP", ns)) == 1


def test_a_multi_page_document_is_one_alto_and_one_hocr_with_a_page_element_per_page():
    results = [page(0), page(1)]
    root = assert_valid("alto-4-2.xsd", alto_document(results, INFO))
    assert [p.get("PHYSICAL_IMG_NR") for p in root.findall(f".//{{{ALTO_NS}}}Page")] == ["1", "2"]
    html = etree.fromstring(hocr_document(results, INFO))
    assert len(html.findall(f".//{{{XHTML_NS}}}div[@class='ocr_page']")) == 2


def test_page_xml_is_valid_page_2019_with_both_readings_of_a_corrected_word():
    root = assert_valid("pagecontent-2019-07-15.xsd", page_xml_document(page(), INFO))
    ns = {"p": PAGE_NS}
    words = root.findall(".//p:Word", ns)
    corrected = [(e.get("index"), e.findtext("p:Unicode", namespaces=ns)) for e in words[1].findall("p:TextEquiv", ns)]
    assert corrected == [("1", "Sir"), ("2", "Sil")]
    assert root.find(".//p:TextLine/p:Baseline", ns).get("points") == "100,130 400,130"
    assert root.findtext("p:TextRegion/p:TextEquiv/p:Unicode", namespaces={"p": PAGE_NS}) is None
    assert root.find(".//p:TextRegion/p:TextEquiv/p:Unicode", ns).text == "Dear Sir\nyours &c"


def test_a_page_with_nothing_read_is_still_valid_everywhere():
    blank = PageResult(0, 1000, 800, 200.0, 0.0, ())
    assert_valid("alto-4-2.xsd", alto_document([blank], INFO))
    assert_valid("pagecontent-2019-07-15.xsd", page_xml_document(blank, INFO))


def test_stamps_are_illustrations_in_alto_and_graphic_regions_in_page_with_or_without_text():
    stamp = BBox(600, 50, 880, 330)
    for result in (replace(page(), stamps=(stamp,)), PageResult(0, 1000, 800, 200.0, 0.0, (), stamps=(stamp,))):
        alto = assert_valid("alto-4-2.xsd", alto_document([result], INFO))
        (illustration,) = alto.findall(f".//{{{ALTO_NS}}}Illustration")
        assert illustration.get("TYPE") == "stamp"
        assert [illustration.get(k) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT")] == ["600", "50", "280", "280"]
        page_xml = assert_valid("pagecontent-2019-07-15.xsd", page_xml_document(result, INFO))
        (region,) = page_xml.findall(f".//{{{PAGE_NS}}}GraphicRegion")
        assert region.get("type") == "stamp" and region.find(f"{{{PAGE_NS}}}Coords").get("points").startswith("600,50 ")
    assert PageResult.from_dict(result.to_dict()) == result  # the resume checkpoint keeps them


@pytest.mark.parametrize("render", [lambda r: alto_document([r], INFO), lambda r: page_xml_document(r, INFO)])
def test_our_alto_and_page_read_back_through_our_own_reader_as_the_same_lines(tmp_path, render):
    path = tmp_path / "out.xml"
    path.write_bytes(render(replace(page(), stamps=(BBox(600, 50, 880, 330),))))  # a stamp is no line
    back = read_ground_truth(path)
    assert (back.width, back.height) == (1000, 800)
    assert [line.text for line in back.lines] == ["Dear Sir", "yours &c"]
    xs = [x for x, _ in back.lines[0].polygon]
    ys = [y for _, y in back.lines[0].polygon]
    assert (min(xs), min(ys), max(xs), max(ys)) == (100, 100, 400, 130)
    assert back.lines[0].baseline == ((100, 130), (400, 130))


def test_hocr_has_the_page_line_and_word_classes_with_boxes_and_confidences():
    html = etree.fromstring(hocr_document([page()], INFO))
    ns = {"h": XHTML_NS}
    words = html.findall(".//h:span[@class='ocrx_word']", ns)
    assert [w.text for w in words] == ["Dear", "Sir", "yours", "&c"]
    assert words[1].get("title") == "bbox 200 100 260 130; x_wconf 50"
    line_title = html.find(".//h:span[@class='ocr_line']", ns).get("title")
    assert line_title.startswith("bbox 100 100 400 130; baseline 0.0000 0")
    assert 'image "letter.png"; bbox 0 0 1000 800; ppageno 0; scan_res 200 200' in html.find(
        ".//h:div[@class='ocr_page']", ns
    ).get("title")
    assert html.find(".//h:meta[@name='ocr-capabilities']", ns) is not None


def test_page_files_are_one_per_page_numbered_only_when_there_are_several(tmp_path):
    assert page_xml_paths(tmp_path / "a" / "scan", 1) == [tmp_path / "a" / "scan.page.xml"]
    assert page_xml_paths(tmp_path / "scan", 2) == [tmp_path / "scan.0001.page.xml", tmp_path / "scan.0002.page.xml"]


def sideways_page() -> PageResult:
    """`page()` and a note written up its left margin: letters 30 px high stacked from y 600 upwards,
    their feet (the baseline) at x 50."""
    chars = tuple(Char(BBox(20, 600 - 20 * (i + 1), 50, 600 - 20 * i), (c,), (0.9,)) for i, c in enumerate("note"))
    note = Word(BBox(20, 520, 50, 600), chars, "note")
    return replace(page(), lines=page().lines + (Line(note.bbox, (note,), "line", turned=1),))


def test_a_line_written_up_the_page_is_a_rotated_block_in_alto_and_page_with_its_baseline_running_up():
    ns = {"a": ALTO_NS, "p": PAGE_NS}
    alto = assert_valid("alto-4-2.xsd", alto_document([sideways_page()], INFO))
    across, up = alto.findall(".//a:TextBlock", ns)
    assert across.get("ROTATION") is None and up.get("ROTATION") == "90"  # its content turned a quarter anticlockwise
    assert [s.get("CONTENT") for s in up.findall(".//a:String", ns)] == ["note"]
    assert up.find("a:TextLine", ns).get("BASELINE") == "50,600 50,520"
    page_xml = assert_valid("pagecontent-2019-07-15.xsd", page_xml_document(sideways_page(), INFO))
    regions = page_xml.findall(".//p:TextRegion", ns)
    assert [r.get("orientation") for r in regions] == [None, "90"]  # turned a quarter clockwise to read
    assert [r.get("regionRef") for r in page_xml.findall(".//p:RegionRefIndexed", ns)] == ["r1", "r2"]
    assert regions[1].find("p:TextLine/p:Baseline", ns).get("points") == "50,600 50,520"
    orders = [line.get("custom").split("}")[0] for line in page_xml.findall(".//p:TextLine", ns)]
    assert orders == ["readingOrder {index:0;", "readingOrder {index:1;", "readingOrder {index:2;"]


def test_hocr_gives_a_line_written_up_the_page_its_text_angle_and_the_baseline_it_is_read_along():
    html = etree.fromstring(hocr_document([sideways_page()], INFO))
    ns = {"h": XHTML_NS}
    assert len(html.findall(".//h:div[@class='ocr_carea']", ns)) == 2
    title = html.findall(".//h:span[@class='ocr_line']", ns)[-1].get("title")
    assert title == "bbox 20 520 50 600; baseline 0.0000 0; textangle 90"
