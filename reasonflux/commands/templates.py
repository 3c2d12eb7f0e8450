"""``reasonflux templates``: search, stats, validate and import thought-template libraries.

    reasonflux templates search "number of ways to distribute identical balls into boxes" -k 5 --json
    reasonflux templates stats --json
    reasonflux templates validate my_templates.jsonl
    reasonflux templates import reference.json -o imported.jsonl
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field

from reasonflux.config import register as register_command

LIBRARY_HELP = "template library: 'builtin', a JSONL file, a directory of JSONL files, or a comma list"


@dataclass
class SearchConfig:
    query: str = field(default="", metadata={"help": "problem text or keywords", "argument": True, "required": True})
    k: int = field(default=5, metadata={"help": "how many templates", "short": "-k", "min": 1})
    library: str = field(default="builtin", metadata={"help": LIBRARY_HELP, "path": "library"})
    retriever: str = field(default="hierarchical", metadata={"help": "hierarchical | flat (BM25) | embeddings (local sentence-embedding model)",
                                                             "choices": ("hierarchical", "flat", "embeddings")})
    embed_model: str | None = field(default=None, metadata={"help": "embeddings: local model directory (or $REASONFLUX_EMBED_MODEL)"})
    json: bool = field(default=False, metadata={"help": "print a JSON list of {id, name, score, tags, ...}"})


@dataclass
class StatsConfig:
    library: str = field(default="builtin", metadata={"help": LIBRARY_HELP, "path": "library"})
    json: bool = field(default=False, metadata={"help": "print JSON"})


@dataclass
class ValidateConfig:
    file: str = field(default="", metadata={"help": "JSONL library file(s) or directory", "argument": True, "required": True, "path": "library"})


@dataclass
class ImportConfig:
    file: str = field(default="", metadata={"help": "reference-format JSON {chapter: {section: [templates]}}", "argument": True, "required": True, "path": "file"})
    out: str = field(default="", metadata={"help": "output JSONL file", "short": "-o", "required": True, "path": "out_file"})
    default_domain: str | None = field(default=None, metadata={"help": "domain for chapters no keyword maps (default: a keyword vote over the chapter's templates, else algebra)"})
    id_prefix: str = field(default="", metadata={"help": "namespace for the imported ids (e.g. v1), to use the library next to builtin"})


def search_main(cfg: SearchConfig) -> list[dict]:
    from reasonflux.errors import UserError
    from reasonflux.templates.retrieve import get_retriever

    if not cfg.query.strip():
        raise UserError('templates search needs a query: reasonflux templates search "sum of digits"')
    hits = [h.to_dict() for h in get_retriever(cfg.library, cfg.retriever, embed_model=cfg.embed_model).search(cfg.query, cfg.k)]
    if cfg.json:
        sys.stdout.write(json.dumps(hits, ensure_ascii=False) + "\n")
        return hits
    from rich.console import Console
    from rich.table import Table

    table = Table("rank", "score", "id", "name", "tags")
    for h in hits:
        table.add_row(str(h["rank"]), f"{h['score']:.3f}", h["id"], h["name"], ", ".join(h["tags"]))
    Console().print(table if hits else "no template matches the query")
    return hits


def stats_main(cfg: StatsConfig) -> dict:
    from reasonflux.templates.library import load_library

    st = load_library(cfg.library).stats()
    if cfg.json:
        sys.stdout.write(json.dumps(st, ensure_ascii=False) + "\n")
        return st
    from rich.console import Console
    from rich.table import Table

    table = Table("domain", "templates", title=f"{st['templates']} templates, {st['sections']} sections, {st['tags']} tags")
    for d, n in st["domains"].items():
        table.add_row(d, str(n))
    Console().print(table)
    print(f"hash {st['hash'][:16]}  files: {', '.join(st['files'])}")
    return st


def validate_main(cfg: ValidateConfig) -> int:
    from reasonflux.errors import UserError
    from reasonflux.templates.library import load_library, validate

    if not cfg.file:
        raise UserError("templates validate needs a file: reasonflux templates validate lib.jsonl")
    issues = validate(cfg.file)
    for issue in issues:
        print(issue)
    if issues:
        raise UserError(f"{len(issues)} problem(s) in {cfg.file}")
    print(f"ok: {len(load_library(cfg.file))} templates, no problems")
    return 0


def import_main(cfg: ImportConfig) -> int:
    from reasonflux.errors import UserError
    from reasonflux.templates.importer import import_file
    from reasonflux.templates.library import write_jsonl

    if not cfg.file or not cfg.out:
        raise UserError("templates import needs a file and -o OUT.jsonl")
    res = import_file(cfg.file, default_domain=cfg.default_domain, id_prefix=cfg.id_prefix)
    for w in res.warnings:
        print(f"warning: {w}", file=sys.stderr)
    write_jsonl(res.templates, cfg.out)
    kinds = "; ".join(f"{k}: {n}" for k, n in res.summary().items())
    print(f"imported {len(res.templates)} templates -> {cfg.out} ({len(res.warnings)} warnings{': ' + kinds if kinds else ''})")
    return len(res.templates)


def register(app) -> None:  # noqa: ANN001
    import typer

    sub = typer.Typer(help="Thought-template libraries: search, stats, validate, import.", no_args_is_help=True)
    register_command(sub, "search", SearchConfig, search_main, help="Retrieve the templates that best fit a problem.")
    register_command(sub, "stats", StatsConfig, stats_main, help="Count templates per domain and section.")
    register_command(sub, "validate", ValidateConfig, validate_main, help="Check a JSONL library; list every bad record with file:line and field.")
    register_command(sub, "import", ImportConfig, import_main, help="Convert the reference nested JSON format to our JSONL schema.")
    app.add_typer(sub, name="templates")
