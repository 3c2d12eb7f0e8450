"""Thought templates: the schema and JSONL libraries (``library``), import of the reference format
(``importer``), BM25/embedding retrieval with an on-disk index (``retrieve``) and single-shot hints
(``hints``). The shipped library is every ``data/*.jsonl``.

    reasonflux templates stats
"""

from reasonflux.templates.library import DOMAINS, Library, Template, load_library, validate

__all__ = ["DOMAINS", "Library", "Template", "load_library", "validate"]
