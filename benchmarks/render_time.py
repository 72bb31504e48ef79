"""Seconds per page spent writing the searchable PDF, per input kind and output type, on real scans.

    .venv/bin/python benchmarks/render_time.py [--pages 5] [--record]

The first --pages Hooker page scans (../shared/data/hooker-pages, gray JPEG, 200 dpi) as JPEG files, as
PNG files and as one PDF of the JPEGs (img2pdf), each read once by the pipeline (`Reader`, glyph
engine: what is read does not matter here, only that each page has its words); then only the
rendering is timed, as `hcrbatch run` does it: each page's one-page PDF (`render.write_page_pdf`: the
image, or for a PDF input the text layer alone, and the invisible words), then the document joined
(`render.join_pdfs`: for a PDF input, the layers laid on its own pages), for `--output-type pdf` and
`pdfa` (which also checks the file it wrote). Best of three.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import record  # noqa: E402

from hcrbatch import Reader  # noqa: E402
from hcrbatch.archival import DocumentInfo  # noqa: E402
from hcrbatch.config import Config, IngestConfig, RecognizeConfig  # noqa: E402
from hcrbatch.ingest import iter_pages  # noqa: E402
from hcrbatch.pdfa import srgb_profile  # noqa: E402
from hcrbatch.render import join_pdfs, write_page_pdf  # noqa: E402

DATA = HERE.parent.parent / "shared" / "data" / "hooker-pages"
DPI = 200


def inputs(scans: list[Path], scratch: Path) -> dict[str, list[Path]]:
    jpeg = scratch / "jpeg"
    jpeg.mkdir()
    for scan in scans:
        shutil.copy(scan, jpeg / scan.name)
    png = scratch / "png"
    png.mkdir()
    for scan in scans:
        with Image.open(scan) as img:
            img.save(png / f"{scan.stem}.png", dpi=(DPI, DPI))
    pdf = scratch / "letters.pdf"
    subprocess.run(["img2pdf", "--imgsize", f"{DPI}dpi", "--output", str(pdf), *map(str, scans)], check=True)
    return {"jpeg": sorted(jpeg.iterdir()), "png": sorted(png.iterdir()), "pdf": [pdf]}


def render_seconds(files: list[Path], readings: dict, output_type: str, scratch: Path) -> float:
    """Best of three: every page's PDF written, then each document joined."""
    profile = srgb_profile() if output_type == "pdfa" else None
    best = float("inf")
    for attempt in range(3):
        work = scratch / f"render-{output_type}-{attempt}"
        work.mkdir()
        started = time.perf_counter()
        for n, file in enumerate(files):
            parts = []
            for page, result in readings[file]:
                part = work / f"{n}-{page.index}.pdf"
                write_page_pdf(part, page, result, with_image=file.suffix != ".pdf", embed_font=profile is not None)
                parts.append(part)
            info = DocumentInfo.now(file.name, "hcrbatch", ())
            original = file if file.suffix == ".pdf" else None
            join_pdfs(parts, work / f"{n}.pdf", work / "join", info, original=original, pdfa_profile=profile)
        best = min(best, time.perf_counter() - started)
        shutil.rmtree(work)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=5)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    scans = sorted(DATA.glob("*.jpg"))[: args.pages]
    scratch = Path(tempfile.mkdtemp(prefix="hcrbatch-render-"))
    reader = Reader(Config(scratch, scratch, recognize=RecognizeConfig(engine="glyph")))
    ingest = IngestConfig(dpi=DPI)
    rows = []
    for kind, files in inputs(scans, scratch).items():
        readings = {file: [(page, reader.read_page(page)) for page in iter_pages(file, ingest)] for file in files}
        for output_type in ("pdf", "pdfa"):
            seconds = render_seconds(files, readings, output_type, scratch)
            rows.append(f"| {kind} | {output_type} | {len(scans)} | {seconds / len(scans):.3f} |")
            print(rows[-1], flush=True)
    shutil.rmtree(scratch, ignore_errors=True)
    table = "| input | output type | pages | seconds a page (render + join) |\n|---|---|---|---|\n" + "\n".join(rows)
    print(table)
    if args.record:
        record(" ".join(["python benchmarks/render_time.py", *sys.argv[1:]]), table)


if __name__ == "__main__":
    main()
