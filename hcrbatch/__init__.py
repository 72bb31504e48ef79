"""hcrbatch: batch handwritten-document digitization into searchable PDFs and CSV reports.

The public API (`hcrbatch.api`): `Reader` reads pages and files as `hcrbatch run` does, `run_batch`
does what `hcrbatch run` does, `segment_page` cuts a page into lines, words and glyphs. They load
on first use, so that `import hcrbatch` stays light for the CLI and the workers.
"""

__version__ = "0.1.0"
__all__ = ["BatchResult", "Config", "PageResult", "Reader", "__version__", "run_batch", "segment_page"]


def __getattr__(name: str):
    if name in __all__:
        from hcrbatch import api

        return getattr(api, name)
    raise AttributeError(f"module 'hcrbatch' has no attribute {name!r}")
