"""Reading PAGE (2013, 2019) and ALTO (v2-v4) transcriptions that the tests write themselves."""

import pytest

from hcrbatch.errors import GroundTruthError
from hcrbatch.groundtruth import read_ground_truth, transcription_of

PAGE_NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/{}"


def page_xml(version: str = "2013-07-15", reading_order: str = "r2 r1", body: str | None = None) -> str:
    """Two regions listed r1, r2 in the file but ordered r2, r1 by ReadingOrder; r1's lines are
    listed second-first in the file and put right by their custom readingOrder index."""
    refs = "".join(f'<RegionRefIndexed index="{i}" regionRef="{r}"/>' for i, r in enumerate(reading_order.split()))
    body = (
        body
        or """
      <TextRegion id="r1" type="paragraph">
        <Coords points="10,100 500,100 500,300 10,300"/>
        <TextLine id="r1l2" custom="readingOrder {index:1;}">
          <Coords points="20,200 480,200 480,250 20,250"/>
          <Baseline points="20,240 480,242"/>
          <TextEquiv><Unicode>second line</Unicode></TextEquiv>
        </TextLine>
        <TextLine id="r1l1" custom="readingOrder {index:0;}">
          <Coords points="20,120 480,120 480,170 20,170"/>
          <Baseline points="20,160 250,161 480,160"/>
          <TextEquiv index="1"><Unicode>alternative</Unicode></TextEquiv>
          <TextEquiv index="0"><Unicode>first line</Unicode></TextEquiv>
        </TextLine>
      </TextRegion>
      <TextRegion id="r2">
        <Coords points="10,10 500,10 500,60 10,60"/>
        <TextLine id="r2l1">
          <Coords points="20,20 480,20 480,55 20,55"/>
          <Word id="w1"><Coords points="20,20 100,20 100,55 20,55"/><TextEquiv><Unicode>Dear</Unicode></TextEquiv></Word>
          <Word id="w2"><Coords points="120,20 200,20 200,55 120,55"/><TextEquiv><Unicode>Sir,</Unicode></TextEquiv></Word>
        </TextLine>
      </TextRegion>"""
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<PcGts xmlns="{PAGE_NS.format(version)}">
  <Metadata><Creator>tests</Creator></Metadata>
  <Page imageFilename="letter.jpg" imageWidth="600" imageHeight="400">
    <ReadingOrder><OrderedGroup id="g">{refs}</OrderedGroup></ReadingOrder>{body}
  </Page>
</PcGts>"""


def alto_xml(version: int = 4) -> str:
    namespace = f"http://www.loc.gov/standards/alto/ns-v{version}#"
    baseline = 'BASELINE="30 90 400 92"' if version == 4 else 'BASELINE="90"'
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alto xmlns="{namespace}">
  <Description><MeasurementUnit>pixel</MeasurementUnit>
    <sourceImageInformation><fileName>will.jpg</fileName></sourceImageInformation></Description>
  <Tags><OtherTag ID="BT1" LABEL="MainZone"/><OtherTag ID="LT1" LABEL="DefaultLine"/></Tags>
  <Layout><Page WIDTH="800" HEIGHT="1000" PHYSICAL_IMG_NR="1" ID="p1"><PrintSpace>
    <TextBlock ID="b1" TAGREFS="BT1" HPOS="20" VPOS="40" WIDTH="500" HEIGHT="200">
      <Shape><Polygon POINTS="20 40 520 40 520 240 20 240"/></Shape>
      <TextLine ID="l1" TAGREFS="LT1" {baseline} HPOS="30" VPOS="50" WIDTH="400" HEIGHT="50">
        <Shape><Polygon POINTS="30 50 430 50 430 100 30 100"/></Shape>
        <String CONTENT="Je" HPOS="30" VPOS="50" WIDTH="40" HEIGHT="50"/><SP/>
        <String CONTENT="soussigné" HPOS="80" VPOS="50" WIDTH="200" HEIGHT="50"/>
      </TextLine>
      <TextLine ID="l2" HPOS="30" VPOS="120" WIDTH="300" HEIGHT="40">
        <String CONTENT="lègue tout"/>
      </TextLine>
    </TextBlock>
  </PrintSpace></Page></Layout>
</alto>"""


@pytest.mark.parametrize("version", ["2013-07-15", "2019-07-15"])
def test_page_regions_and_lines_come_in_reading_order_with_outlines_baselines_and_text(tmp_path, version):
    path = tmp_path / "letter.xml"
    path.write_text(page_xml(version), encoding="utf-8")
    page = read_ground_truth(path)
    assert page.format == f"PAGE {version}"
    assert (page.width, page.height, page.image) == (600, 400, "letter.jpg")
    assert [r.id for r in page.regions] == ["r2", "r1"]
    assert [line.text for line in page.lines] == ["Dear Sir,", "first line", "second line"]
    first = page.regions[1].lines[0]
    assert first.polygon == ((20, 120), (480, 120), (480, 170), (20, 170))
    assert first.baseline == ((20, 160), (250, 161), (480, 160))
    assert page.regions[1].kind == "paragraph" and page.regions[1].polygon[0] == (10, 100)


def test_page_without_reading_order_keeps_the_files_order(tmp_path):
    path = tmp_path / "letter.xml"
    path.write_text(page_xml(reading_order=""), encoding="utf-8")
    assert [r.id for r in read_ground_truth(path).regions] == ["r1", "r2"]


@pytest.mark.parametrize("version", [2, 3, 4])
def test_alto_blocks_lines_shapes_and_strings(tmp_path, version):
    path = tmp_path / "will.xml"
    path.write_text(alto_xml(version), encoding="utf-8")
    page = read_ground_truth(path)
    assert page.format == f"ALTO v{version}"
    assert (page.width, page.height, page.image) == (800, 1000, "will.jpg")
    (block,) = page.regions
    assert block.kind == "MainZone" and block.polygon[2] == (520, 240)
    assert [line.text for line in page.lines] == ["Je soussigné", "lègue tout"]
    assert page.lines[0].kind == "DefaultLine"
    assert page.lines[0].baseline == (((30, 90), (400, 92)) if version == 4 else ())
    # a line without a Shape is its HPOS/VPOS/WIDTH/HEIGHT rectangle
    assert page.lines[1].polygon == ((30, 120), (330, 120), (330, 160), (30, 160))


def test_a_broken_file_is_named_with_the_element_at_fault(tmp_path):
    path = tmp_path / "bad.xml"
    path.write_text(page_xml(body='<TextRegion id="r1"><TextLine id="r1l7"><TextEquiv/></TextLine></TextRegion>'))
    with pytest.raises(GroundTruthError, match=r"bad\.xml: line \d+: <TextLine id='r1l7'>: TextLine without Coords"):
        read_ground_truth(path)
    path.write_text(
        page_xml(body='<TextRegion id="r1"><TextLine id="x"><Coords points="1,2 3"/></TextLine></TextRegion>')
    )
    with pytest.raises(GroundTruthError, match=r"<Coords>: needs at least 3 x,y points"):
        read_ground_truth(path)
    path.write_text("<PcGts><Page imageWidth='10'")
    with pytest.raises(GroundTruthError, match=r"bad\.xml: not readable XML"):
        read_ground_truth(path)
    path.write_text("<html/>")
    with pytest.raises(GroundTruthError, match=r"neither PAGE \(PcGts\) nor ALTO: root element <html>"):
        read_ground_truth(path)


def test_a_scans_transcription_is_found_beside_it_or_in_an_exports_subfolder(tmp_path):
    (tmp_path / "page").mkdir()
    (tmp_path / "a.jpg").touch()
    (tmp_path / "a.xml").write_text(alto_xml())
    (tmp_path / "b.jpg").touch()
    (tmp_path / "page" / "b.xml").write_text(page_xml())
    (tmp_path / "c.jpg").touch()
    (tmp_path / "c.xml").write_text("<metadata/>")  # some other XML: not a transcription
    assert transcription_of(tmp_path / "a.jpg").format == "ALTO v4"
    assert transcription_of(tmp_path / "b.jpg").format == "PAGE 2013-07-15"
    assert transcription_of(tmp_path / "c.jpg") is None
