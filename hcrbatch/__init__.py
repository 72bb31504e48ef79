"""hcrbatch: batch handwritten-document digitization into searchable PDFs and CSV reports."""

__version__ = "0.1.0"
