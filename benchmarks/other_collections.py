"""Another collection's transcribed pages end to end: how the reading carries to writing it never saw.

    .venv/bin/python benchmarks/other_collections.py --data DIR [--lang fr] [--split held-out|tuning|all]
                                                     [--name NAME] [--models-dir DIR] [--record]
    .venv/bin/python benchmarks/other_collections.py --data DIR --link-tuning FOLDER

DIR is a folder of page images with PAGE or ALTO XML beside them, in sub-folders or not: for instance
an HTR-United set's `data/` fetched from GitHub (CREMMA-MSS-18, 18th-century French manuscripts,
CC-BY 4.0: `git clone https://github.com/HTR-United/CREMMA-MSS-18`). Nothing of it is copied into
the project. Its pages are split by page, in name order within each sub-folder: every second page
(the 2nd, 4th, ...) is held out, never trained or tuned on; the others are for tuning and training
(`--link-tuning FOLDER` links them, under names unique across sub-folders, into one folder that
`hcrbatch train-lines --data FOLDER` takes). Each page is read as `hcrbatch run` reads it
(`--engine auto`) and scored by `hcrbatch eval-pages`'s own code; a row per sub-folder and one for all.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from hcrbatch.config import Config, CorrectConfig, RecognizeConfig
from hcrbatch.evalpages import PageScore, evaluate_folder, total, transcribed_images

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import record  # noqa: E402


def split_pages(data: Path) -> dict[str, list[tuple[Path, Path]]]:
    """The transcribed page images under `data` with their transcriptions, by split: "held-out"
    (every second in name order within each sub-folder) and "tuning" (the others)."""
    by_folder: dict[Path, list[tuple[Path, Path]]] = {}
    for file, gt in transcribed_images(Config(data, data)):
        by_folder.setdefault(file.path.parent, []).append((file.path, gt.source))
    split: dict[str, list[tuple[Path, Path]]] = {"tuning": [], "held-out": []}
    for pages in by_folder.values():
        pages.sort()
        split["tuning"] += pages[0::2]
        split["held-out"] += pages[1::2]
    return split


def link_tuning(pages: list[tuple[Path, Path]], folder: Path) -> None:
    """Each tuning page and its transcription hard-linked (copied across file systems) into `folder`,
    named by its sub-folder and stem: `hcrbatch` follows no symbolic link out of the folder it reads."""
    folder.mkdir(parents=True, exist_ok=True)
    for image, xml in pages:
        name = f"{image.parent.name}__{image.stem}"
        for source, link in ((image, folder / f"{name}{image.suffix}"), (xml, folder / f"{name}.xml")):
            link.unlink(missing_ok=True)
            try:
                link.hardlink_to(source)
            except OSError:
                shutil.copy2(source, link)


def row(name: str, scores: list[PageScore]) -> str:
    t = total(scores)
    return (
        f"| {name} | {len(scores)} | {t.gt_chars} | {t.cer:.2%} | {t.wer:.2%} | {t.line_f1:.3f} | "
        f"{sum(s.read_as_empty for s in scores)} | {t.lines_merged} | {t.lines_split} | {t.lines_missed} | "
        f"{t.lines_extra} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--lang", default="fr")
    parser.add_argument("--split", choices=["held-out", "tuning", "all"], default="held-out")
    parser.add_argument("--name", default=None, help="the collection's name in the table (DIR's parent's by default)")
    parser.add_argument("--models-dir", type=Path, default=RecognizeConfig.models_dir)
    parser.add_argument("--link-tuning", type=Path, default=None, help="only link the tuning pages into this folder")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    split = split_pages(args.data)
    if args.link_tuning:
        link_tuning(split["tuning"], args.link_tuning)
        print(f"linked {len(split['tuning'])} tuning pages into {args.link_tuning}")
        return
    chosen = split["tuning"] + split["held-out"] if args.split == "all" else split[args.split]
    cfg = Config(args.data, args.data, workers=1, recognize=RecognizeConfig(models_dir=args.models_dir),
                 correct=CorrectConfig(lang=args.lang))  # fmt: skip
    scores = evaluate_folder(cfg, only={str(image.relative_to(args.data)) for image, _ in chosen})
    rows = []
    for folder in sorted({s.image.split("/", 1)[0] for s in scores if "/" in s.image}):
        rows.append(row(folder, [s for s in scores if s.image.startswith(folder + "/")]))
    name = args.name or args.data.resolve().parent.name
    rows.append(row(f"**{name}, all**", scores))
    table = "\n".join(
        [
            "| pages of | pages | characters | CER | WER | line F1 | read as empty | merged | split | missed | extra |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    print(table)
    if args.record:
        context = f"; {args.split} pages of {name}, models {args.models_dir}"
        record(" ".join(["python benchmarks/other_collections.py", *sys.argv[1:]]), table, context)


if __name__ == "__main__":
    main()
