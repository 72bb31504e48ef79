"""PDF/A-2b (`--output-type pdfa`): what makes the searchable PDF an archival one, and the checks.

A PDF/A-2b file embeds every font it uses, names the colour space its device colours mean (an
OutputIntent with an ICC profile: sRGB here, for gray and RGB scans), says in its XMP metadata
that it is PDF/A-2b (and mirrors that metadata in its Info dictionary), has a file identifier, and
holds nothing that needs outside resources or code to show it (JavaScript, launch actions,
embedded files, LZW, PostScript, hidden or unprintable annotations). hcrbatch's own pages comply
by construction (`render`: the text layer in an embedded TrueType font). A PDF input keeps its own
pages only where `original_problems` finds nothing in them that PDF/A forbids and hcrbatch would
have to change; otherwise its pages are written from the images read, as an image input's are.

No PDF/A validator (veraPDF is Java) installs from the package registries here, so `pdfa_problems`
checks a written file against the requirements above with pikepdf; the tests run it on every kind
of input, and the pipeline runs it on every PDF/A it writes before the file is final.
"""

from __future__ import annotations

from pathlib import Path

import pikepdf
from pikepdf import Name

from hcrbatch.errors import ConfigError

# Debian's icc-profiles-free: an ICC v2 sRGB profile (PDF/A-2 accepts ICC versions up to 4.2; the
# sRGB profile LittleCMS makes through Pillow is 4.4)
SRGB_PROFILE = Path("/usr/share/color/icc/sRGB.icc")
SRGB_NAME = "sRGB IEC61966-2.1"
FORBIDDEN_FILTERS = {"/LZWDecode"}
FORBIDDEN_ACTIONS = {"/JavaScript", "/Launch", "/Sound", "/Movie", "/ResetForm", "/ImportData", "/Rendition"}
CMYK_SPACES = {"/DeviceCMYK", "/Separation", "/DeviceN"}  # device colours the sRGB intent does not give a meaning
ANNOTATION_PRINT, ANNOTATION_HIDDEN, ANNOTATION_INVISIBLE, ANNOTATION_NO_VIEW = 4, 2, 1, 32


def srgb_profile() -> bytes:
    try:
        return SRGB_PROFILE.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"--output-type pdfa needs an sRGB ICC profile at {SRGB_PROFILE}: apt-get install icc-profiles-free"
        ) from exc


def make_pdfa(document: pikepdf.Pdf, profile: bytes) -> None:
    """Mark `document` PDF/A-2b: the sRGB output intent and the XMP identification (call after the
    rest of its metadata is written: pikepdf mirrors the XMP into the Info dictionary)."""
    intent = pikepdf.Dictionary(
        Type=Name.OutputIntent,
        S=Name.GTS_PDFA1,
        OutputConditionIdentifier=SRGB_NAME,
        Info=SRGB_NAME,
        DestOutputProfile=document.make_stream(profile, N=3),
    )
    document.Root.OutputIntents = pikepdf.Array([document.make_indirect(intent)])
    with document.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["pdfaid:part"] = "2"
        meta["pdfaid:conformance"] = "B"


def original_problems(path: Path) -> list[str]:
    """What in a PDF input PDF/A-2b forbids, of what hcrbatch would not mend; [] when its pages can stay."""
    try:
        with pikepdf.open(path) as document:
            problems = _content_problems(document)
            if document.pdf_version > "1.7":
                problems.append(f"PDF version {document.pdf_version} (PDF/A-2 is PDF 1.7)")
            return problems
    except pikepdf.PdfError as exc:
        return [f"it cannot be read as PDF ({exc})"]


def pdfa_problems(path: Path) -> list[str]:
    """The PDF/A-2b requirements the PDF at `path` fails, of those listed in this module's docstring."""
    with pikepdf.open(path) as document:
        problems = _content_problems(document)
        if document.is_encrypted:
            problems.append("it is encrypted")
        if document.pdf_version > "1.7":
            problems.append(f"PDF version {document.pdf_version}")
        if "/ID" not in document.trailer:
            problems.append("no file identifier (trailer /ID)")
        problems += _intent_problems(document) + _metadata_problems(document)
        return problems


def _intent_problems(document: pikepdf.Pdf) -> list[str]:
    intents = [i for i in document.Root.get("/OutputIntents", []) if i.get("/S") == Name.GTS_PDFA1]
    if len(intents) != 1:
        return [f"{len(intents)} PDF/A output intents (one is needed)"]
    profile = intents[0].get("/DestOutputProfile")
    if not isinstance(profile, pikepdf.Stream) or int(profile.get("/N", 0)) != 3:
        return ["the output intent has no RGB ICC profile"]
    if profile.read_bytes()[8] > 4:
        return ["the output intent's ICC profile is newer than version 4"]
    return []


def _metadata_problems(document: pikepdf.Pdf) -> list[str]:
    stream = document.Root.get("/Metadata")
    if stream is None:
        return ["no XMP metadata"]
    problems = ["the XMP metadata stream is compressed"] if "/Filter" in stream else []
    meta = document.open_metadata()
    if meta.get("pdfaid:part") != "2" or meta.get("pdfaid:conformance") != "B":
        problems.append("the XMP metadata does not say PDF/A-2b")
    info = document.docinfo
    for key, xmp in (("/Title", "dc:title"), ("/Producer", "pdf:Producer"), ("/Creator", "xmp:CreatorTool")):
        if key in info and not meta.get(xmp):
            problems.append(f"Info {key} is not in the XMP metadata")
    return problems


def _content_problems(document: pikepdf.Pdf) -> list[str]:
    """Fonts not embedded, forbidden filters, actions, attachments, PostScript, CMYK images and
    annotations PDF/A does not allow, found among the document's objects and page contents."""
    problems: set[str] = set()
    names = document.Root.get("/Names", {})
    if "/JavaScript" in names or "/EmbeddedFiles" in names:
        problems.add("JavaScript or embedded files")
    if "/AA" in document.Root or "/OCProperties" in document.Root:
        problems.add("document actions or optional content")
    for obj in document.objects:
        if isinstance(obj, pikepdf.Stream):
            filters = obj.get("/Filter")
            filters = [filters] if isinstance(filters, Name) else list(filters or [])
            if FORBIDDEN_FILTERS & {str(f) for f in filters}:
                problems.add("LZW-compressed streams")
        if not isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream)):
            continue
        kind, subtype = obj.get("/Type"), obj.get("/Subtype")
        if subtype == Name.Image:
            space = obj.get("/ColorSpace")
            base = space[0] if isinstance(space, pikepdf.Array) and len(space) else space
            if str(base) in CMYK_SPACES:
                problems.add("CMYK or spot-colour images")
            if obj.get("/Interpolate") or "/Alternates" in obj or "/OPI" in obj:
                problems.add("images with interpolation, alternates or OPI")
        elif subtype == Name.PS or kind == Name.XObject and obj.get("/Subtype2") == Name.PS:
            problems.add("PostScript")
        elif str(obj.get("/S", "")) in FORBIDDEN_ACTIONS:
            problems.add(f"{str(obj.get('/S'))[1:]} actions")
        elif kind == Name.Annot:
            problems |= _annotation_problems(obj)
    for page in document.pages:
        if "/AA" in page.obj:
            problems.add("page actions")
        fonts, cmyk = _content_use(page.obj, page.obj.get("/Resources", pikepdf.Dictionary()))
        problems |= {
            f"font {str(font.get('/BaseFont', '/?'))[1:]} not embedded" for font in fonts if not _embedded(font)
        }
        if cmyk:
            problems.add("CMYK colours in page content")
    return sorted(problems)


def _embedded(font: pikepdf.Dictionary) -> bool:
    """Whether a font carries its program (a Type0 font: its descendant; a Type3 font is drawn by its own content)."""
    if font.get("/Subtype") == Name.Type3:
        return True
    if font.get("/Subtype") == Name.Type0:
        return all(_embedded(descendant) for descendant in font.get("/DescendantFonts", []))
    descriptor = font.get("/FontDescriptor")
    return descriptor is not None and any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))


def _content_use(
    holder: pikepdf.Object, resources: pikepdf.Dictionary, depth: int = 0
) -> tuple[list[pikepdf.Dictionary], bool]:
    """The fonts a page (or form XObject) `holder` shows visible text in, through the forms it
    draws, and whether it sets a CMYK colour (k, K, or a DeviceCMYK colour space). PDF/A asks
    nothing of a font only listed, only selected, or used only for invisible text (mode 3)."""
    try:
        instructions = pikepdf.parse_content_stream(holder)
    except pikepdf.PdfError:
        return [], False
    fonts, cmyk = [], False
    state, saved = (None, 0), []  # (the font selected, the text render mode), kept by q and restored by Q
    for instruction in instructions:
        if isinstance(instruction, pikepdf.ContentStreamInlineImage):
            continue
        operator, operands = str(instruction.operator), instruction.operands
        if operator == "q":
            saved.append(state)
        elif operator == "Q" and saved:
            state = saved.pop()
        elif operator == "Tf" and operands:
            state = (resources.get("/Font", {}).get(str(operands[0])), state[1])
        elif operator == "Tr" and operands:
            state = (state[0], int(operands[0]))
        elif operator in ("Tj", "TJ", "'", '"') and state[0] is not None and state[1] != 3:
            fonts.append(state[0])
        elif operator in ("k", "K") or operator in ("cs", "CS") and operands and str(operands[0]) == "/DeviceCMYK":
            cmyk = True
        elif operator == "Do" and depth < 8 and operands:
            form = resources.get("/XObject", {}).get(str(operands[0]))
            if form is not None and form.get("/Subtype") == Name.Form:
                inner_fonts, inner_cmyk = _content_use(form, form.get("/Resources", resources), depth + 1)
                fonts += inner_fonts
                cmyk |= inner_cmyk
    return fonts, cmyk


def _annotation_problems(annotation: pikepdf.Dictionary) -> set[str]:
    if annotation.get("/Subtype") == Name.Popup:
        return set()
    flags = int(annotation.get("/F", 0))
    if not flags & ANNOTATION_PRINT or flags & (ANNOTATION_HIDDEN | ANNOTATION_INVISIBLE | ANNOTATION_NO_VIEW):
        return {"annotations that do not print or are hidden"}
    if annotation.get("/Subtype") in (Name.Movie, Name.Sound, Name.FileAttachment, Name.Screen, Name("/3D")):
        return {f"{str(annotation.get('/Subtype'))[1:]} annotations"}
    if annotation.get("/Subtype") != Name.Link and "/AP" not in annotation:
        return {"annotations without an appearance"}
    return set()
