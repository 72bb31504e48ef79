"""Click only: parse options -> Config -> core -> exit code. Every error becomes a documented code."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import sys
import tomllib
import typing
from collections.abc import Callable
from pathlib import Path

import click

from hcrbatch import __version__
from hcrbatch.config import (
    DEFAULT_FORMATS,
    DEFAULT_MODELS_DIR,
    OUTPUT_FORMATS,
    Config,
    CorrectConfig,
    GanConfig,
    LineFinderTrainConfig,
    LineKindTrainConfig,
    IngestConfig,
    CharLmTrainConfig,
    LineTrainConfig,
    Option,
    PreprocessConfig,
    RecognizeConfig,
    SegmentConfig,
    TrainConfig,
)
from hcrbatch.correctors import CORRECTORS
from hcrbatch.engines import ENGINES
from hcrbatch.errors import ExitCode, HcrError, not_library_advice

log = logging.getLogger("hcrbatch")


def setup_logging(verbose: bool, quiet: bool, log_file: Path | None) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(level)
    # a terminal shows lines as they come; a cron mail or a redirected log needs to say when
    stamp = "" if sys.stderr.isatty() else "%(asctime)s "
    stderr.setFormatter(logging.Formatter(f"{stamp}hcrbatch: %(levelname)s: %(message)s"))
    if not verbose:
        stderr.addFilter(not_library_advice)
    root.addHandler(stderr)
    if log_file:
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setLevel(logging.DEBUG if verbose else logging.INFO)
        file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(file_handler)
    root.setLevel(logging.DEBUG if verbose or log_file else level)
    for noisy in ("PIL", "tensorflow", "absl", "h5py", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # libraries' warnings about one file ("Corrupt EXIF data") are detail for --verbose and the log
    # file, not lines of their own on stderr: the file's own row and warning say what went wrong
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").setLevel(logging.DEBUG if verbose or log_file else logging.ERROR)


def finish(ctx: click.Context, action: Callable[[], int]) -> None:
    """Run the command body and leave with its exit code; errors become their documented codes."""
    try:
        code = action()
    except HcrError as exc:
        log.error("%s", exc)
        code = exc.exit_code
    except KeyboardInterrupt:
        log.error("interrupted; what was finished is kept, and the same command resumes from there")
        code = ExitCode.INTERRUPTED
    except Exception as exc:  # a fault of ours: one line to act on, the traceback in the log
        log.debug("internal error", exc_info=True)
        first = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        log.error("internal error (%s): a fault of hcrbatch, not of the inputs; what was finished is kept. "
                  "Run again with --verbose for where it happened, and report it", first)  # fmt: skip
        code = ExitCode.INTERNAL
    ctx.exit(int(code))


def _sigterm_as_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


logging_options = [
    click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors; no progress bars."),
    click.option("--verbose", "-v", is_flag=True, help="Debug messages."),
    click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path), help="Also log to this file."),
]


def with_logging(func):
    for option in reversed(logging_options):
        func = option(func)
    return func


def config_defaults(group: click.Group, tables: dict, where: str) -> dict:
    """A TOML file's tables as Click's default map: `[run]` fills `run`'s defaults, `[gan.train]`
    `gan train`'s; keys are option names (`low-confidence` or `low_confidence`). A table or key that
    names nothing is an error, so that a misspelt setting is not silently ignored."""
    defaults = {}
    for key, value in tables.items():
        command = group.commands.get(key)
        if command is None or not isinstance(value, dict):
            raise click.BadParameter(f"{where}: [{key}] is not a command; tables: {', '.join(sorted(group.commands))}")
        if isinstance(command, click.Group):
            defaults[key] = config_defaults(command, value, f"{where} [{key}]")
            continue
        names = {param.name for param in command.params}
        unknown = sorted(option for option in value if option.replace("-", "_") not in names)
        if unknown:
            raise click.BadParameter(f"{where}: [{key}] has no option {', '.join(unknown)}")
        defaults[key] = {option.replace("-", "_"): setting for option, setting in value.items()}
    return defaults


def read_config_file(ctx: click.Context, param: click.Parameter, path: Path | None) -> None:
    if path is None:
        return
    try:
        tables = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise click.BadParameter(f"{path}: {exc}", ctx=ctx, param=param) from exc
    ctx.default_map = config_defaults(ctx.command, tables, str(path))


BACKEND_FREE_COMMANDS = {"train-lines"}  # commands that run on the Keras backend KERAS_BACKEND names


@click.group(context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "HCRBATCH"})
@click.version_option(__version__, prog_name="hcrbatch")
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    callback=read_config_file,
    is_eager=True,
    expose_value=False,
    help="A TOML file of defaults, a table per command ([run], [eval-pages], [gan.train]); the command line "
    "and HCRBATCH_* variables win over it (also HCRBATCH_CONFIG).",
)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Batch handwritten-document digitization: scans in, searchable PDFs and CSV reports out."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # The models run as TensorFlow functions; Keras reads its backend once, on import, so a
    # KERAS_BACKEND a user set for JAX or PyTorch would hand them models of another framework.
    # `train-lines` alone keeps it: its model and loss are Keras ops, so it trains on a JAX machine.
    if ctx.invoked_subcommand not in BACKEND_FREE_COMMANDS:
        os.environ["KERAS_BACKEND"] = "tensorflow"
    # Each --workers process is its own TensorFlow runtime: without growth the first one to start
    # maps nearly all of a GPU's memory and the others cannot start theirs.
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)


# Options that change how a page is read: `run`, `eval-pages` and `calibrate` take the same ones, so
# an archivist measures on a transcribed sample exactly the reading the whole collection will get.
# Each is a field of the config section it sets, declared there with `hcrbatch.config.option`.
READING_SECTIONS = {
    "ingest": IngestConfig,
    "preprocess": PreprocessConfig,
    "segment": SegmentConfig,
    "recognize": RecognizeConfig,
    "correct": CorrectConfig,
}
REGISTRIES = {"engines": ENGINES, "correctors": CORRECTORS}


def offered(cls: type) -> list[tuple[dataclasses.Field, Option]]:
    """The fields of a config dataclass the command line offers, with how."""
    return [(f, f.metadata["option"]) for f in dataclasses.fields(cls) if "option" in f.metadata]


def option_name(f: dataclasses.Field, how: Option) -> str:
    return how.name or f.name.replace("_", "-")


def click_option(f: dataclasses.Field, how: Option, kind: object):
    """The Click option of a config field whose annotation resolves to `kind`."""
    flag = "--" + option_name(f, how)
    settings = {"default": f.default, "show_default": how.show_default, "help": how.help or None}
    if kind is bool:
        if not f.default:
            return click.option(flag, is_flag=True, help=settings["help"])
        return click.option(f"{flag}/--no-{flag[2:]}", **settings)
    if how.path:
        settings["type"] = click.Path(file_okay=how.path == "file", dir_okay=how.path == "dir", path_type=Path)
    elif how.registry:
        settings["type"] = click.Choice(sorted(REGISTRIES[how.registry]))
    elif typing.get_origin(kind) is typing.Literal:
        settings["type"] = click.Choice(typing.get_args(kind))
    elif kind in (int, float) and (how.low is not None or how.high is not None):
        settings["type"] = (click.IntRange if kind is int else click.FloatRange)(how.low, how.high)
    else:
        settings["type"] = kind
    return click.option(flag, **settings)


def reading_options() -> list:
    sections = [*READING_SECTIONS.values(), Config]
    return [click_option(f, how, typing.get_type_hints(cls)[f.name]) for cls in sections for f, how in offered(cls)]


def reading_config(**values) -> dict:
    """The reading options' values as the Config fields they set."""

    def settings(cls: type) -> dict:
        return {f.name: values[option_name(f, how).replace("-", "_")] for f, how in offered(cls)}

    return {section: cls(**settings(cls)) for section, cls in READING_SECTIONS.items()} | settings(Config)


overwrite_option = click.option(
    "--overwrite", is_flag=True, help="Replace a model of the same name, a shipped one included (refused without this)."
)


def with_reading_options(func):
    for option in reversed(reading_options()):
        func = option(func)
    return func


def parse_formats(value: str) -> tuple[str, ...]:
    """`--formats pdf,alto`: the named formats, each once, in OUTPUT_FORMATS order."""
    names = {name.strip().lower() for name in value.split(",") if name.strip()}
    unknown = sorted(names - set(OUTPUT_FORMATS))
    if unknown or not names:
        raise click.BadParameter(f"{', '.join(unknown) or 'none given'}: choose from {', '.join(OUTPUT_FORMATS)}")
    return tuple(fmt for fmt in OUTPUT_FORMATS if fmt in names)


@cli.command()
@click.argument("in_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--glob", "pattern", default="*", show_default=True, help="Only files whose name or relative path match.")
@click.option("--recursive/--no-recursive", default=True, show_default=True, help="Walk sub-folders.")
@with_reading_options
@click.option("--force", is_flag=True, help="Redo files even if their outputs are up to date.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first file that fails.")
@click.option(
    "--formats",
    default=",".join(DEFAULT_FORMATS),
    show_default=True,
    callback=lambda ctx, param, value: parse_formats(value),
    help=f"Outputs for each input, comma-separated, of: {', '.join(OUTPUT_FORMATS)} (also HCRBATCH_RUN_FORMATS).",
)
@click.option(
    "--workers",
    type=click.IntRange(1),
    default=os.cpu_count() or 1,
    show_default=True,
    help="Processes reading in parallel (files, and a long document's pages), with --executor local.",
)
@click.option(
    "--threads",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Pages read at once in one process, its models shared (both cores busy in the memory of one "
    "process); --workers is then 1 unless given.",
)
@click.option(
    "--output-type",
    type=click.Choice(["pdf", "pdfa"]),
    default="pdf",
    show_default=True,
    help="pdfa: the searchable PDF as PDF/A-2b (embedded fonts, sRGB output intent, XMP identification).",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="local: --workers processes on this machine; dask: the workers of a running dask.distributed cluster.",
)
@click.option(
    "--scheduler", default="", help="The dask scheduler's address, e.g. tcp://10.0.0.5:8786 (--executor dask)."
)
@with_logging
@click.pass_context
def run(
    ctx,
    in_dir,
    out_dir,
    pattern,
    recursive,
    force,
    fail_fast,
    formats,
    output_type,
    workers,
    threads,
    executor,
    scheduler,
    quiet,
    verbose,
    log_file,
    **reading,
) -> None:
    """Read every scan under IN_DIR; write a searchable PDF, TXT, CSV and ALTO (or the --formats asked
    for) for each into OUT_DIR."""
    setup_logging(verbose, quiet, log_file)
    if threads > 1 and ctx.get_parameter_source("workers") == click.core.ParameterSource.DEFAULT:
        workers = 1  # --threads reads in one process: the default of a process a core gives way
    cfg = Config(
        input_dir=in_dir.absolute(),
        output_dir=out_dir.absolute(),
        glob=pattern,
        recursive=recursive,
        force=force,
        fail_fast=fail_fast,
        formats=formats,
        output_type=output_type,
        workers=workers,
        threads=threads,
        executor=executor,
        scheduler=scheduler,
        progress=not quiet and sys.stderr.isatty(),
        **reading_config(**reading),
    )

    def action() -> int:
        from tqdm.contrib.logging import logging_redirect_tqdm

        from hcrbatch.pipeline import run_batch

        redirect = logging_redirect_tqdm() if cfg.progress else contextlib.nullcontext()
        with redirect:
            result = run_batch(cfg)
        counts = result.counts
        log.info("%d ok, %d skipped, %d failed; report: %s", counts["ok"], counts["skipped"], counts["failed"],
                 cfg.output_dir / "hcrbatch-report.csv")  # fmt: skip
        return result.exit_code

    finish(ctx, action)


@cli.command(name="eval-pages")
@click.argument("pages_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("eval-pages"),
    show_default=True,
    help="Where pages.csv (a row per page and one for all) and cer-vs-confidence.png go.",
)
@click.option(
    "--glob", "pattern", default="*", show_default=True, help="Only images whose name or relative path match."
)
@click.option(
    "--held-out",
    is_flag=True,
    help="Only the pages the line model's manifest lists as held out from its training (for the benchmarks).",
)
@with_reading_options
@with_logging
@click.pass_context
def eval_pages(ctx, pages_dir, out_dir, pattern, held_out, quiet, verbose, log_file, **reading) -> None:
    """Read the transcribed pages under PAGES_DIR (images with PAGE or ALTO XML beside them) as `run`
    would, and score the reading against the transcriptions: CER, WER, line segmentation, reading order."""
    setup_logging(verbose, quiet, log_file)
    cfg = Config(input_dir=pages_dir.absolute(), output_dir=out_dir.absolute(), glob=pattern, workers=1,
                 progress=not quiet and sys.stderr.isatty(), **reading_config(**reading))  # fmt: skip

    def action() -> int:
        from hcrbatch.evalpages import evaluate_folder, held_out_pages, summary_lines, write_scores

        scores = evaluate_folder(cfg, only=held_out_pages(cfg) if held_out else None)
        written = write_scores(scores, cfg.output_dir)
        if not quiet:
            for line in summary_lines(scores) + [f"wrote {path}" for path in written]:
                click.echo(line)
        return ExitCode.OK

    finish(ctx, action)


@cli.command()
@click.argument("pages_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--glob", "pattern", default="*", show_default=True, help="Only images whose name or relative path match."
)
@click.option("--overwrite", is_flag=True, help="Replace a calibration the models already hold.")
@with_reading_options
@with_logging
@click.pass_context
def calibrate(ctx, pages_dir, pattern, overwrite, quiet, verbose, log_file, **reading) -> None:
    """Fit each engine's word confidence to how often its words are right on the transcribed pages
    under PAGES_DIR (images with PAGE or ALTO XML beside them), read as `run` would; the fit goes
    into the engine's model manifest, so that a word's confidence is the probability it is right."""
    setup_logging(verbose, quiet, log_file)
    cfg = Config(input_dir=pages_dir.absolute(), output_dir=Path("."), glob=pattern, workers=1,
                 progress=not quiet and sys.stderr.isatty(), **reading_config(**reading))  # fmt: skip

    def action() -> int:
        from hcrbatch.confidence import FEWEST_WORDS, fit_engines, reliability, samples
        from hcrbatch.engines import refuse_to_recalibrate, store_calibrations
        from hcrbatch.evalpages import evaluate_folder

        refuse_to_recalibrate(cfg.recognize, cfg.correct.lang, overwrite)
        outcomes: list = []
        scores = evaluate_folder(cfg, outcomes=outcomes)
        found = samples([outcome[1:] for outcome in outcomes], cfg.correct.lang)
        calibrations = fit_engines(found, f"{len(found)} words of {len(scores)} pages under {pages_dir.name}")
        written = store_calibrations(cfg.recognize, calibrations, overwrite)
        if not quiet:
            for calibration in calibrations:
                mine = [(line, word, right) for _, line, word, right in outcomes
                        if word.chars and line.engine == calibration.engine]  # fmt: skip
                right = [r for *_, r in mine]
                before, _ = reliability([word.mean_confidence for _, word, _ in mine], right)
                lang = cfg.correct.lang
                after, _ = reliability([calibration.probability(w, line, lang) for line, w, _ in mine], right)
                click.echo(f"{calibration.engine}: {len(mine)} words, {sum(right) / len(mine):.1%} right; "
                           f"calibration error {before:.3f} -> {after:.3f} on these pages")  # fmt: skip
            for path in written:
                click.echo(f"wrote {path}")
            if not written:
                click.echo(f"no engine read enough words to calibrate (at least {FEWEST_WORDS})")
        return ExitCode.OK

    finish(ctx, action)


@cli.command(name="tune-auto")
@click.option("--data", "data", multiple=True, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A folder of transcribed line images (labels.tsv), as the line model was trained on; repeatable, "
              "in the order train-lines was given them.")  # fmt: skip
@click.option("--emnist", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="The EMNIST folder: its held-out writers' characters write the hand-printed tuning pages.")  # fmt: skip
@click.option("--line-model", default=RecognizeConfig.line_model, show_default=True, help="The line model to tune for.")
@click.option("--model", default=RecognizeConfig.model, show_default=True, help="The glyph engine's character model.")
@click.option("--models-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_MODELS_DIR)
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".train/tune-auto"),
              show_default=True, help="Where the hand-printed tuning pages are written (once).")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Choose and show the rule; write nothing.")
@click.option("--overwrite", is_flag=True, help="Replace the rule the line model's manifest holds.")
@with_logging
@click.pass_context
def tune_auto(
    ctx, data, emnist, line_model, model, models_dir, work_dir, dry_run, overwrite, quiet, verbose, log_file
) -> None:
    """Choose when `--engine auto` takes a line from the line engine rather than the glyph engine, for
    LINE_MODEL: every rule on a grid is scored on pages rebuilt from the model's validation lines
    (never trained on) and on hand-printed pages, and the chosen rule goes into the model's manifest."""
    setup_logging(verbose, quiet, log_file)
    cfg = RecognizeConfig(models_dir=models_dir, line_model=line_model, model=model)

    def action() -> int:
        from hcrbatch.train.autorule import PRINTED_PAGES, choose_rule, read_tuning_pages, refuse_to_retune, store_rule

        if not dry_run:
            refuse_to_retune(cfg, overwrite)  # before minutes of reading, not after
        printed = {hand: count for hand, (_, count) in PRINTED_PAGES.items()}
        tuning = choose_rule(read_tuning_pages(cfg, list(data), emnist, work_dir, printed))
        if not quiet:
            click.echo(f"{tuning.table}\n\n{tuning.summary}")
        if not dry_run:
            path = store_rule(cfg, tuning, overwrite)
            if not quiet:
                click.echo(f"wrote {path}")
        return ExitCode.OK

    finish(ctx, action)


@cli.command()
@click.option("--data", "data", multiple=True, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="EMNIST folder (gzip IDX files) or labelled folder DIR/<char or U+XXXX>/*.png; repeatable.")  # fmt: skip
@click.option("--name", default=TrainConfig.name, show_default=True)
@click.option("--models-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_MODELS_DIR)
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=TrainConfig.work_dir,
    show_default=True,
    help="Checkpoints and history; an interrupted run resumes from here.",
)
@click.option("--epochs", type=click.IntRange(1), default=TrainConfig.epochs, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=TrainConfig.batch_size, show_default=True)
@click.option("--seed", type=int, default=TrainConfig.seed, show_default=True)
@click.option(
    "--font-samples",
    type=click.IntRange(0),
    default=TrainConfig.font_samples,
    show_default=True,
    help="Handwriting-font renderings per class (0: none).",
)
@click.option(
    "--page-glyphs",
    type=click.IntRange(0),
    default=TrainConfig.page_glyphs,
    show_default=True,
    help="Also write this many pages with the training glyphs and train on the glyphs the segmenter cuts from them.",
)
@click.option(
    "--page-glyph-text",
    type=click.Choice(["prose", "class-mix"]),
    default=TrainConfig.page_glyph_text,
    show_default=True,
    help="What those pages say: words drawn at the training rows' class frequencies (the network keeps their "
    "class prior; pages are read with prose's, see run --char-prior), or English and French prose.",
)
@click.option("--transposed", is_flag=True, help="EMNIST files as NIST ships them (images stored transposed).")
@click.option("--limit", type=click.IntRange(0), default=0, help="Use at most this many training rows.")
@click.option(
    "--elastic-alpha",
    type=click.FloatRange(0),
    default=TrainConfig.elastic_alpha,
    help="Also distort every training glyph elastically with this strength in px (Simard et al. 2003 used 34; 0: off).",
)
@click.option(
    "--balance",
    type=click.Choice(["none", "gan"]),
    default="none",
    show_default=True,
    help="gan: top up classes with fewer than --balance-to rows with glyphs from the GAN generator.",
)
@click.option("--balance-to", type=click.IntRange(0), default=0, help="Rows per class after top-up (0: the mean).")
@click.option("--gan", "gan_name", default=TrainConfig.gan, show_default=True, help="Generator used by --balance gan.")
@click.option("--gan-judge", default="", help="Keep only generated glyphs this character model reads as their class.")
@click.option(
    "--patience",
    type=click.IntRange(0),
    default=TrainConfig.patience,
    show_default=True,
    help="Epochs without progress before stopping early (0: run every epoch).",
)
@click.option("--schedule", type=click.Choice(["cosine", "plateau"]), default=TrainConfig.schedule,
              show_default=True, help="Learning rate: cosine decay to zero over --epochs, or cut on a plateau.")  # fmt: skip
@click.option("--learning-rate", type=click.FloatRange(0, min_open=True), default=TrainConfig.learning_rate,
              show_default=True, help="Initial learning rate.")  # fmt: skip
@overwrite_option
@with_logging
@click.pass_context
def train(ctx, data, name, models_dir, work_dir, epochs, batch_size, seed, font_samples, page_glyphs, page_glyph_text,
          transposed, limit, elastic_alpha, balance, balance_to, gan_name, gan_judge, patience, schedule, learning_rate,
          overwrite, quiet, verbose, log_file) -> None:  # fmt: skip
    """Train the character CNN and write MODELS_DIR/NAME.keras with its manifest."""
    setup_logging(verbose, quiet, log_file)
    cfg = TrainConfig(
        data=tuple(data), name=name, models_dir=models_dir, work_dir=work_dir, epochs=epochs,
        batch_size=batch_size, seed=seed, font_samples=font_samples, page_glyphs=page_glyphs,
        page_glyph_text=page_glyph_text, transposed=transposed, limit=limit,
        elastic_alpha=elastic_alpha, balance=balance, balance_to=balance_to, gan=gan_name, gan_judge=gan_judge,
        patience=patience, schedule=schedule, learning_rate=learning_rate, overwrite=overwrite,
    )  # fmt: skip

    def action() -> int:
        from hcrbatch.train.charcnn import train_char_model

        path = train_char_model(cfg, verbose=0 if quiet else 2)
        click.echo(str(path))
        return ExitCode.OK

    finish(ctx, action)


@cli.command(name="train-lines")
@click.option("--data", "data", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of line images with labels.tsv (file<TAB>text), e.g. ../shared/data/hooker-lines, or of page "
                   "scans with PAGE or ALTO XML beside them, e.g. ../shared/data/hooker-pages; repeatable.")  # fmt: skip
@click.option("--synthetic", type=click.IntRange(0), default=0, show_default=True,
              help="Add this many lines rendered from handwriting fonts; alone (no --data) it pre-trains.")  # fmt: skip
@click.option("--name", default=LineTrainConfig.name, show_default=True)
@click.option("--models-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_MODELS_DIR)
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=LineTrainConfig.work_dir,
    show_default=True,
    help="Checkpoints and history; an interrupted run resumes from here.",
)
@click.option("--head", type=click.Choice(["conv", "lstm", "lstm2"]), default="conv", show_default=True,
              help="Sequence head: dilated 1-D convolutions, a bidirectional LSTM, or two larger stacked ones.")  # fmt: skip
@click.option("--epochs", type=click.IntRange(1), default=LineTrainConfig.epochs, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=LineTrainConfig.batch_size, show_default=True)
@click.option("--seed", type=int, default=LineTrainConfig.seed, show_default=True)
@click.option("--patience", type=click.IntRange(0), default=LineTrainConfig.patience, show_default=True,
              help="Epochs without progress before stopping early (0: never).")  # fmt: skip
@click.option("--schedule", type=click.Choice(["cosine", "plateau"]), default=LineTrainConfig.schedule,
              show_default=True, help="Learning rate: cosine decay to zero over --epochs, or cut on a plateau.")  # fmt: skip
@click.option("--limit", type=click.IntRange(0), default=0, help="Use at most this many training lines.")
@click.option("--learning-rate", type=click.FloatRange(0, min_open=True), default=LineTrainConfig.learning_rate,
              show_default=True, help="Initial learning rate (lower it to fine-tune from --init-from).")  # fmt: skip
@click.option("--init-from", default="", metavar="MODEL",
              help="Fine-tune: start from this line model in --models-dir (e.g. one pre-trained on synthetic lines).")  # fmt: skip
@click.option("--elastic-alpha", type=click.FloatRange(0), default=LineTrainConfig.elastic_alpha, show_default=True,
              help="Also distort each training line elastically, with a strength drawn up to this (px; 0: off).")  # fmt: skip
@click.option("--vertical-jitter", type=click.FloatRange(0, 0.5), default=LineTrainConfig.vertical_jitter,
              show_default=True, help="Also scale each training line's writing in height and move it up or down by up to this share of the line (0: off).")  # fmt: skip
@click.option("--page-crops", is_flag=True,
              help="Also train on each training line as our segmentation crops it from its page, rebuilt from the page's lines.")  # fmt: skip
@overwrite_option
@with_logging
@click.pass_context
def train_lines(ctx, data, synthetic, name, models_dir, work_dir, head, epochs, batch_size, seed, patience, schedule,
                limit, learning_rate, init_from, elastic_alpha, vertical_jitter, page_crops, overwrite, quiet, verbose,
                log_file) -> None:  # fmt: skip
    """Train the CTC line recognizer on transcribed line images; hold out 10 % of the pages."""
    setup_logging(verbose, quiet, log_file)
    cfg = LineTrainConfig(
        data=tuple(data), name=name, models_dir=models_dir, work_dir=work_dir, head=head, epochs=epochs,
        batch_size=batch_size, seed=seed, patience=patience, schedule=schedule, limit=limit,
        learning_rate=learning_rate, init_from=init_from, synthetic=synthetic, elastic_alpha=elastic_alpha,
        vertical_jitter=vertical_jitter, page_crops=page_crops, overwrite=overwrite,
    )  # fmt: skip

    def action() -> int:
        from hcrbatch.train.lines import train_line_model

        click.echo(str(train_line_model(cfg, verbose=0 if quiet else 2)))
        return ExitCode.OK

    finish(ctx, action)


@cli.command(name="train-charlm")
@click.option("--data", "data", multiple=True, required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of page scans with PAGE or ALTO XML beside them, or of line images with labels.tsv; repeatable.")  # fmt: skip
@click.option(
    "--lang", required=True, help="The language it models; the model is named charlm-LANG unless --name says otherwise."
)
@click.option("--name", default="", help="Model name (default: charlm-LANG).")
@click.option("--models-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_MODELS_DIR)
@click.option("--order", type=click.IntRange(2, 6), default=CharLmTrainConfig.order, show_default=True,
              help="Longest n-gram, in characters.")  # fmt: skip
@click.option("--min-count", type=click.IntRange(1), default=CharLmTrainConfig.min_count, show_default=True,
              help="Leave out n-grams of three or more characters seen fewer times (a smaller model).")  # fmt: skip
@click.option("--line-model", default=CharLmTrainConfig.line_model, show_default=True,
              help="Leave out the pages this line model holds out ('' : none).")  # fmt: skip
@click.option(
    "--exclude", multiple=True, metavar="PAGE", help="Also leave out this page (image file stem); repeatable."
)
@overwrite_option
@with_logging
@click.pass_context
def train_charlm(ctx, data, lang, name, models_dir, order, min_count, line_model, exclude, overwrite, quiet, verbose,
                 log_file) -> None:  # fmt: skip
    """Train the line engine's character language model on transcribed lines (seconds, no GPU)."""
    setup_logging(verbose, quiet, log_file)
    cfg = CharLmTrainConfig(
        data=tuple(data), name=name or f"charlm-{lang}", models_dir=models_dir, order=order, min_count=min_count,
        line_model=line_model, exclude=tuple(exclude), overwrite=overwrite,
    )  # fmt: skip

    def action() -> int:
        from hcrbatch.train.charlm import train_char_lm

        click.echo(str(train_char_lm(cfg)))
        return ExitCode.OK

    finish(ctx, action)


@cli.command(name="train-line-kind")
@click.option("--data", "data", multiple=True, required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Real handwritten lines: a folder of line images with labels.tsv, or of pages with PAGE/ALTO; repeatable.")  # fmt: skip
@click.option("--name", default=LineKindTrainConfig.name, show_default=True)
@click.option("--models-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_MODELS_DIR)
@click.option("--line-model", default=LineKindTrainConfig.line_model, show_default=True,
              help="Keep the pages this line model holds out for testing only ('' : none).")  # fmt: skip
@click.option("--print-lines", type=click.IntRange(10), default=LineKindTrainConfig.print_lines, show_default=True)
@click.option("--synthetic-lines", type=click.IntRange(0), default=LineKindTrainConfig.synthetic_lines,
              show_default=True, help="Handwriting rendered in handwriting fonts.")  # fmt: skip
@click.option("--epochs", type=click.IntRange(1), default=LineKindTrainConfig.epochs, show_default=True)
@click.option("--tesseract-min-confidence", type=click.FloatRange(0, 1),
              default=LineKindTrainConfig.tesseract_min_confidence, show_default=True,
              help="How sure Tesseract must be of a line --engine auto gives it, kept in the manifest.")  # fmt: skip
@click.option("--tesseract-sure-confidence", type=click.FloatRange(0, 1),
              default=LineKindTrainConfig.tesseract_sure_confidence, show_default=True,
              help="How sure Tesseract must be of a line the classifier doubts, kept in the manifest.")  # fmt: skip
@click.option("--seed", type=int, default=LineKindTrainConfig.seed, show_default=True)
@overwrite_option
@click.option("--retune", is_flag=True,
              help="Keep the trained model; choose its threshold again (after changing --tesseract-min-confidence).")  # fmt: skip
@with_logging
@click.pass_context
def train_line_kind(ctx, data, name, models_dir, line_model, print_lines, synthetic_lines, epochs,
                    tesseract_min_confidence, tesseract_sure_confidence, seed, overwrite, retune, quiet, verbose,
                    log_file) -> None:  # fmt: skip
    """Train the classifier that sends printed lines to Tesseract under --engine auto (minutes on a CPU)."""
    setup_logging(verbose, quiet, log_file)
    cfg = LineKindTrainConfig(
        data=tuple(data), name=name, models_dir=models_dir, line_model=line_model, print_lines=print_lines,
        synthetic_lines=synthetic_lines, epochs=epochs, tesseract_min_confidence=tesseract_min_confidence,
        tesseract_sure_confidence=tesseract_sure_confidence, seed=seed, overwrite=overwrite, retune=retune,
    )  # fmt: skip

    def action() -> int:
        from hcrbatch.train.linekinds import train_line_kind as train

        click.echo(str(train(cfg, verbose=0 if quiet else 2)))
        return ExitCode.OK

    finish(ctx, action)


@cli.command(name="train-line-finder")
@click.option("--data", "data", multiple=True, required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of page scans with PAGE or ALTO XML beside them; repeatable.")  # fmt: skip
@click.option("--name", default=LineFinderTrainConfig.name, show_default=True)
@click.option("--models-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_MODELS_DIR)
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path), default=LineFinderTrainConfig.work_dir,
              show_default=True, help="The prepared pages and the training's backup; an interrupted run resumes from here.")  # fmt: skip
@click.option("--line-model", default=LineFinderTrainConfig.line_model, show_default=True,
              help="Never train on the pages this line model holds out (its test pages).")  # fmt: skip
@click.option("--epochs", type=click.IntRange(1), default=LineFinderTrainConfig.epochs, show_default=True)
@click.option("--steps", "steps_per_epoch", type=click.IntRange(1), default=LineFinderTrainConfig.steps_per_epoch,
              show_default=True, help="Batches of page pieces an epoch.")  # fmt: skip
@click.option("--batch-size", type=click.IntRange(1), default=LineFinderTrainConfig.batch_size, show_default=True)
@click.option("--workers", type=click.IntRange(1), default=LineFinderTrainConfig.workers, show_default=True,
              help="Processes preparing the pages.")  # fmt: skip
@click.option("--seed", type=int, default=LineFinderTrainConfig.seed, show_default=True)
@overwrite_option
@with_logging
@click.pass_context
def train_line_finder(ctx, data, name, models_dir, work_dir, line_model, epochs, steps_per_epoch, batch_size, workers,
                      seed, overwrite, quiet, verbose, log_file) -> None:  # fmt: skip
    """Train the network whose line density segmentation finds lines on, from transcribed pages (minutes on a CPU)."""
    setup_logging(verbose, quiet, log_file)
    cfg = LineFinderTrainConfig(
        data=tuple(data), name=name, models_dir=models_dir, work_dir=work_dir, line_model=line_model, epochs=epochs,
        steps_per_epoch=steps_per_epoch, batch_size=batch_size, workers=workers, seed=seed, overwrite=overwrite,
    )  # fmt: skip

    def action() -> int:
        from hcrbatch.train.linefinder import train_line_finder as train

        click.echo(str(train(cfg, verbose=0 if quiet else 2)))
        return ExitCode.OK

    finish(ctx, action)


@cli.command(name="eval")
@click.option(
    "--data",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="EMNIST folder (its held-out ByClass rows are used) or labelled folder DIR/<char>/*.png.",
)
@click.option("--model", "name", default=RecognizeConfig.model, show_default=True)
@click.option("--models-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_MODELS_DIR)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("eval"),
    show_default=True,
    help="Where per_class.csv, confusions.csv and confusion_matrix.png go.",
)
@click.option(
    "--char-prior",
    type=click.Choice(["training", "prose"]),
    default="training",
    show_default=True,
    help="The class prior the glyphs are read with (see `hcrbatch run --char-prior`); the held-out rows "
    "share the training rows' class mix.",
)
@with_logging
@click.pass_context
def evaluate(ctx, data, name, models_dir, out_dir, char_prior, quiet, verbose, log_file) -> None:
    """Accuracy of a character model (62 classes, 47 with EMNIST-Balanced merges, digits)."""
    setup_logging(verbose, quiet, log_file)

    def action() -> int:
        from hcrbatch.train.evaluate import evaluate_model, write_evaluation

        evaluation = evaluate_model(data, models_dir, name, char_prior)
        for key, value in evaluation.summary().items():
            click.echo(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
        per_class = evaluation.per_class().sort_values("accuracy")
        click.echo(
            "weakest classes: " + ", ".join(f"{r['class']} {r.accuracy:.2f}" for _, r in per_class.head(8).iterrows())
        )
        for path in write_evaluation(evaluation, out_dir):
            click.echo(f"wrote {path}")
        return ExitCode.OK

    finish(ctx, action)


@cli.group()
def gan() -> None:
    """The conditional GAN that writes handwritten characters (training data, sample documents)."""


@gan.command(name="train")
@click.option("--data", "data", multiple=True, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="As for `hcrbatch train`: EMNIST folder or labelled folder; held-out rows are never used.")  # fmt: skip
@click.option("--name", default=GanConfig.name, show_default=True)
@click.option("--models-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_MODELS_DIR)
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=GanConfig.work_dir,
    show_default=True,
    help="Checkpoints, history and a sample grid per epoch; an interrupted run resumes from here.",
)
@click.option("--epochs", type=click.IntRange(1), default=GanConfig.epochs, show_default=True)
@click.option("--steps-per-epoch", type=click.IntRange(1), default=GanConfig.steps_per_epoch, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=GanConfig.batch_size, show_default=True)
@click.option("--seed", type=int, default=GanConfig.seed, show_default=True)
@click.option("--font-samples", type=click.IntRange(0), default=GanConfig.font_samples, show_default=True,
              help="Handwriting-font renderings per class (they teach the punctuation).")  # fmt: skip
@click.option("--transposed", is_flag=True, help="EMNIST files as NIST ships them (images stored transposed).")
@click.option("--limit", type=click.IntRange(0), default=0, help="Use at most this many training rows.")
@overwrite_option
@with_logging
@click.pass_context
def gan_train(ctx, data, name, models_dir, work_dir, epochs, steps_per_epoch, batch_size, seed, font_samples,
              transposed, limit, overwrite, quiet, verbose, log_file) -> None:  # fmt: skip
    """Train the GAN and write the generator as MODELS_DIR/NAME.keras with its manifest."""
    setup_logging(verbose, quiet, log_file)
    cfg = GanConfig(
        data=tuple(data), name=name, models_dir=models_dir, work_dir=work_dir, epochs=epochs,
        steps_per_epoch=steps_per_epoch, batch_size=batch_size, seed=seed, font_samples=font_samples,
        transposed=transposed, limit=limit, overwrite=overwrite,
    )  # fmt: skip

    def action() -> int:
        from hcrbatch.train.gan import train_gan

        click.echo(str(train_gan(cfg, verbose=0 if quiet else 2)))
        return ExitCode.OK

    finish(ctx, action)


@gan.command(name="sample")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Writes OUT/<char or U+XXXX>/NNNNN.png, a folder `hcrbatch train --data` reads.")  # fmt: skip
@click.option("--per-class", type=click.IntRange(1), default=100, show_default=True)
@click.option("--chars", default="", help="Only these characters (default: all the generator knows).")
@click.option("--model", "name", default=GanConfig.name, show_default=True, help="Generator name.")
@click.option("--models-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_MODELS_DIR)
@click.option("--seed", type=int, default=0, show_default=True)
@with_logging
@click.pass_context
def gan_sample(ctx, out_dir, per_class, chars, name, models_dir, seed, quiet, verbose, log_file) -> None:
    """Write generated character images, one folder per class."""
    setup_logging(verbose, quiet, log_file)

    def action() -> int:
        from hcrbatch.train.gan import GlyphGenerator, write_samples

        generator = GlyphGenerator.load(models_dir, name)
        wanted = "".join(dict.fromkeys(chars)) or generator.charset
        count = write_samples(generator, wanted, per_class, out_dir, seed)
        log.info("wrote %d images of %d classes to %s", count, len(wanted), out_dir)
        return ExitCode.OK

    finish(ctx, action)


def main() -> None:
    cli(prog_name="hcrbatch")
