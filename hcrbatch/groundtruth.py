"""Transcriptions archivists already hold: PAGE XML (Transkribus, 2013 and 2019 schemas) and ALTO
(eScriptorium, v2 to v4), read into one typed model of regions and lines in reading order.

No maintained PyPI package reads both: `ocrd-models` binds PAGE 2019 only (and pulls in the OCR-D
framework), the ALTO readers on PyPI are unmaintained. Both formats are a few elements deep, so
this reads them with lxml, matching elements by local name so that every schema version's
namespace is accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from hcrbatch.errors import GroundTruthError
from hcrbatch.metrics import normalise_text

Point = tuple[float, float]


@dataclass(frozen=True)
class GTLine:
    id: str
    polygon: tuple[Point, ...]  # the line's outline in page pixels (at least 3 points)
    baseline: tuple[Point, ...]  # may be empty where the file gives none
    text: str
    kind: str = ""  # the line's type where the file names one (ALTO tag label, PAGE custom structure)

    def to_dict(self) -> dict:
        return {"id": self.id, "polygon": self.polygon, "baseline": self.baseline, "text": self.text, "kind": self.kind}


@dataclass(frozen=True)
class GTRegion:
    id: str
    polygon: tuple[Point, ...]  # empty where the file gives the lines only
    lines: tuple[GTLine, ...]  # in reading order
    kind: str = ""  # the region's type (PAGE `type`, ALTO tag label such as MainZone, MarginTextZone)


@dataclass(frozen=True)
class GTPage:
    """One transcribed page: its image's name and size, and its regions in reading order."""

    source: Path  # the XML file
    image: str  # the image file name the XML names, as written there
    width: int
    height: int
    regions: tuple[GTRegion, ...]
    format: str  # "PAGE 2013-07-15", "ALTO v4", ...

    @property
    def lines(self) -> list[GTLine]:
        return [line for region in self.regions for line in region.lines]

    @property
    def has_text(self) -> bool:
        """Whether any line holds text: an export holds a file for every page it was given, transcribed or not."""
        return any(normalise_text(line.text) for line in self.lines)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


def _local(element) -> str:
    return etree.QName(element).localname


def _children(element, name: str) -> list:
    return [child for child in element if isinstance(child.tag, str) and _local(child) == name]


def _descendants(element, name: str) -> list:
    return [e for e in element.iter() if isinstance(e.tag, str) and _local(e) == name]


def _where(path: Path, element) -> str:
    ident = element.get("id") or element.get("ID")
    return f"{path}: line {element.sourceline}: <{_local(element)}{f' id={ident!r}' if ident else ''}>"


def _points(text: str | None, path: Path, element, least: int) -> tuple[Point, ...]:
    """PAGE's "x,y x,y ..." or ALTO's "x y x y ..." (also "x,y x,y" as some ALTO writers do)."""
    numbers = re.split(r"[\s,]+", (text or "").strip())
    try:
        values = [float(n) for n in numbers if n]
    except ValueError:
        raise GroundTruthError(f"{_where(path, element)}: points are not numbers: {text!r}") from None
    if len(values) % 2 or len(values) < 2 * least:
        raise GroundTruthError(f"{_where(path, element)}: needs at least {least} x,y points, got {text!r}")
    return tuple(zip(values[0::2], values[1::2]))


def _int_attribute(element, name: str, path: Path) -> int:
    value = element.get(name)
    try:
        return int(round(float(value)))
    except (TypeError, ValueError):
        raise GroundTruthError(f"{_where(path, element)}: attribute {name} missing or not a number") from None


def _parse(path: Path):
    try:
        return etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    except (OSError, etree.XMLSyntaxError) as exc:
        raise GroundTruthError(f"{path}: not readable XML: {exc}") from None


def _reader(root):
    kind = _local(root)
    return _read_page if kind == "PcGts" else _read_alto if kind.lower() == "alto" else None


def read_ground_truth(path: Path) -> GTPage:
    """The page a PAGE or ALTO file describes; GroundTruthError names the file and element at fault."""
    path = Path(path)
    root = _parse(path)
    reader = _reader(root)
    if reader is None:
        raise GroundTruthError(f"{path}: neither PAGE (PcGts) nor ALTO: root element <{_local(root)}>")
    return reader(path, root)


# -- PAGE -------------------------------------------------------------------------------------------

_ORDER_INDEX = re.compile(r"readingOrder\s*\{\s*index\s*:\s*(\d+)")
_STRUCTURE = re.compile(r"structure\s*\{[^}]*type\s*:\s*([^;}]+)")


def _page_text(element) -> str:
    """The first TextEquiv's Unicode (PAGE lists the preferred reading first, or by `index`)."""
    equivs = _children(element, "TextEquiv")
    equivs.sort(key=lambda e: int(e.get("index", 0)) if (e.get("index") or "").isdigit() else 0)
    for equiv in equivs:
        unicode = _children(equiv, "Unicode")
        if unicode:
            return unicode[0].text or ""
    return ""


def _custom_index(element, position: int) -> tuple[int, int]:
    found = _ORDER_INDEX.search(element.get("custom") or "")
    return (int(found.group(1)) if found else position, position)


def _page_coords(element, path: Path, least: int = 3) -> tuple[Point, ...]:
    coords = _children(element, "Coords")
    if not coords:
        return ()
    if coords[0].get("points") is not None:
        return _points(coords[0].get("points"), path, coords[0], least)
    points = _children(coords[0], "Point")  # PAGE 2010 wrote <Point x= y=/> elements
    return tuple((float(p.get("x")), float(p.get("y"))) for p in points)


def _page_line(element, path: Path) -> GTLine:
    polygon = _page_coords(element, path)
    if not polygon:
        raise GroundTruthError(f"{_where(path, element)}: TextLine without Coords")
    baselines = _children(element, "Baseline")
    baseline = _points(baselines[0].get("points"), path, baselines[0], 2) if baselines else ()
    text = _page_text(element)
    if not text and _children(element, "Word"):  # only the words carry text
        text = " ".join(_page_text(w) for w in _children(element, "Word"))
    found = _STRUCTURE.search(element.get("custom") or "")
    return GTLine(element.get("id", ""), polygon, baseline, text, found.group(1).strip() if found else "")


def _sized_page(path: Path, root, pages: list, width: str, height: str) -> tuple:
    """The first Page element and its size in pixels, from the attributes the format names them by."""
    if not pages:
        raise GroundTruthError(f"{_where(path, root)}: no Page element")
    return pages[0], _int_attribute(pages[0], width, path), _int_attribute(pages[0], height, path)


def _read_page(path: Path, root) -> GTPage:
    page, width, height = _sized_page(path, root, _children(root, "Page"), "imageWidth", "imageHeight")
    regions = {}
    for position, element in enumerate(_descendants(page, "TextRegion")):
        lines = sorted(
            ((_custom_index(line, i), _page_line(line, path)) for i, line in enumerate(_children(element, "TextLine"))),
            key=lambda pair: pair[0],
        )
        region = GTRegion(
            element.get("id", f"region{position}"),
            _page_coords(element, path),
            tuple(line for _, line in lines),
            element.get("type", ""),
        )
        regions[region.id] = (_custom_index(element, position), region)
    ordered = _reading_order(page)
    rank = {region_id: i for i, region_id in enumerate(ordered)}
    in_order = sorted(regions.values(), key=lambda pair: (rank.get(pair[1].id, len(rank)), pair[0]))
    namespace = etree.QName(root).namespace or ""
    return GTPage(path, page.get("imageFilename", ""), width, height, tuple(r for _, r in in_order),
                  "PAGE " + namespace.rstrip("/").rsplit("/", 1)[-1])  # fmt: skip


def _reading_order(page) -> list[str]:
    """Region ids in the order the ReadingOrder element gives (nested groups flattened)."""
    order = _children(page, "ReadingOrder")
    if not order:
        return []
    out = []

    def walk(group) -> None:
        refs = [c for c in group if isinstance(c.tag, str)]
        refs.sort(key=lambda e: int(e.get("index", 0)) if (e.get("index") or "").isdigit() else 0)
        for ref in refs:
            if ref.get("regionRef"):
                out.append(ref.get("regionRef"))
            walk(ref)

    walk(order[0])
    return out


# -- ALTO -------------------------------------------------------------------------------------------


def _alto_tags(root) -> dict[str, str]:
    return {tag.get("ID"): tag.get("LABEL", "") for tag in _descendants(root, "OtherTag") if tag.get("ID")}


def _alto_shape(element, path: Path) -> tuple[Point, ...]:
    """A Shape's Polygon, else the HPOS/VPOS/WIDTH/HEIGHT rectangle."""
    for shape in _children(element, "Shape"):
        for polygon in _children(shape, "Polygon"):
            return _points(polygon.get("POINTS"), path, polygon, 3)
    if element.get("HPOS") is None:
        return ()
    left, top = (_int_attribute(element, a, path) for a in ("HPOS", "VPOS"))
    right = left + _int_attribute(element, "WIDTH", path)
    bottom = top + _int_attribute(element, "HEIGHT", path)
    return ((left, top), (right, top), (right, bottom), (left, bottom))


def _alto_text(line) -> str:
    """Its Strings' CONTENT joined by single spaces (SP elements and HYP are spacing, not text)."""
    words = [s.get("CONTENT", "") for s in _children(line, "String")]
    return " ".join(w for w in words if w)


def _alto_kind(element, tags: dict[str, str]) -> str:
    return " ".join(tags.get(ref, ref) for ref in (element.get("TAGREFS") or "").split())


def _alto_line(element, path: Path, tags: dict[str, str]) -> GTLine:
    polygon = _alto_shape(element, path)
    if not polygon:
        raise GroundTruthError(f"{_where(path, element)}: TextLine without Shape or HPOS/VPOS/WIDTH/HEIGHT")
    baseline_text = element.get("BASELINE")
    baseline: tuple[Point, ...] = ()
    if baseline_text:
        numbers = baseline_text.replace(",", " ").split()
        # ALTO 2/3 give BASELINE as a single number (the row); ALTO 4 as a polyline, "x y x y" or "x,y x,y"
        baseline = _points(baseline_text, path, element, 2) if len(numbers) >= 4 else ()
    return GTLine(element.get("ID", ""), polygon, baseline, _alto_text(element), _alto_kind(element, tags))


def _read_alto(path: Path, root) -> GTPage:
    page, width, height = _sized_page(path, root, _descendants(root, "Page"), "WIDTH", "HEIGHT")
    tags = _alto_tags(root)
    regions = []
    for position, block in enumerate(_descendants(page, "TextBlock")):
        lines = tuple(_alto_line(line, path, tags) for line in _children(block, "TextLine"))
        regions.append(GTRegion(block.get("ID", f"block{position}"), _alto_shape(block, path), lines,
                                _alto_kind(block, tags)))  # fmt: skip
    names = [e.text or "" for e in _descendants(root, "fileName")]
    namespace = etree.QName(root).namespace or ""
    version = re.search(r"ns-v(\d)", namespace)
    return GTPage(path, names[0].strip() if names else "", width, height, tuple(regions),
                  f"ALTO v{version.group(1)}" if version else "ALTO")  # fmt: skip


# where a transcription of `scan.jpg` is looked for: beside it, and in the subfolders Transkribus
# (`page/`) and eScriptorium (`alto/`) exports put them in
TRANSCRIPTION_FOLDERS = ("", "page", "alto")


def transcription_of(image: Path) -> GTPage | None:
    """The PAGE or ALTO transcription of an image (`<stem>.xml` in TRANSCRIPTION_FOLDERS), if any;
    an XML file there of another kind is not one."""
    for folder in TRANSCRIPTION_FOLDERS:
        path = image.parent / folder / (image.stem + ".xml")
        if path.is_file():
            root = _parse(path)
            reader = _reader(root)
            if reader is not None:
                return reader(path, root)
    return None
