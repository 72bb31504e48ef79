"""Searchable PDF size against the input's, per input kind, on real scanned pages.

    .venv/bin/python benchmarks/output_size.py [--pages 5] [--output-type pdf|pdfa] [--record]

The first `--pages` Hooker page scans (../shared/data/hooker-pages, gray JPEG, about 200 dpi), as they
are (JPEG), re-saved losslessly (PNG), and as one PDF holding the JPEG scans as they are (a scanner's
JPEG-in-PDF, its pages grafted rather than re-rasterised), each kind read by `hcrbatch run --formats pdf --engine glyph`
(the engine does not change the PDF's size much: the text layer is a few kB a page). Copies live in
benchmarks/data/output-size/ (ignored by git).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import record  # noqa: E402

DATA = HERE.parent.parent / "shared" / "data" / "hooker-pages"
WORK = HERE / "data" / "output-size"


def folder_of(kind: str, scans: list[Path]) -> Path:
    folder = WORK / kind
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    if kind == "pdf":
        from reportlab.pdfgen.canvas import Canvas

        canvas = Canvas(str(folder / "letters.pdf"), invariant=1)
        for scan in scans:
            with Image.open(scan) as img:
                dpi = img.info.get("dpi", (200, 200))[0]
                size = (img.width / dpi * 72, img.height / dpi * 72)
            canvas.setPageSize(size)
            canvas.drawImage(str(scan), 0, 0, *size)  # reportlab embeds a JPEG's bytes as they are
            canvas.showPage()
        canvas.save()
        return folder
    for scan in scans:
        if kind == "jpeg":
            shutil.copy2(scan, folder / scan.name)
        else:
            with Image.open(scan) as img:
                img.save(folder / f"{scan.stem}.png", dpi=img.info.get("dpi", (200, 200)))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=5)
    parser.add_argument("--output-type", default="pdf", choices=["pdf", "pdfa"], help="hcrbatch run --output-type")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    scans = sorted(DATA.glob("*.jpg"))[: args.pages]
    rows = []
    for kind in ("jpeg", "png", "pdf"):
        inputs = folder_of(kind, scans)
        out = WORK / f"{kind}-out"
        shutil.rmtree(out, ignore_errors=True)
        cmd = [sys.executable, "-m", "hcrbatch", "run", str(inputs), str(out), "-q", "--workers", "1",
               "--engine", "glyph", "--formats", "pdf", "--output-type", args.output_type]  # fmt: skip
        subprocess.run(cmd, check=True)
        size_in = sum(p.stat().st_size for p in inputs.iterdir())
        size_out = sum(p.stat().st_size for p in out.glob("*.pdf"))
        rows.append(
            f"| {kind} | {args.output_type} | {len(scans)} | {size_in:,} | {size_out:,} | {size_out / size_in:.2f} |"
        )
        print(rows[-1], flush=True)
    table = (
        "| input | output | pages | input bytes | PDF bytes | PDF / input |\n|---|---|---|---|---|---|\n"
        + "\n".join(rows)
    )
    print(table)
    if args.record:
        record(" ".join(["python benchmarks/output_size.py", *sys.argv[1:]]), table)


if __name__ == "__main__":
    main()
