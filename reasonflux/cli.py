"""The ``reasonflux`` command line. Each command lives in ``reasonflux/commands/<name>.py`` as a
config dataclass plus a ``main(cfg)`` function and registers itself here; heavy libraries are
imported inside ``main`` only, so ``reasonflux --help`` stays fast and torch-free.

    reasonflux --help
"""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

try:  # typer >= 0.20 vendors click; older typer uses the click package
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover
    from click.exceptions import UsageError

from reasonflux import __version__

COMMAND_MODULES = ("solve", "grade", "evaluate", "templates", "reason", "synth", "data", "train")


class OneLineErrors(TyperGroup):
    """Usage mistakes (unknown option, a value that is not a number, a missing argument) as one line
    and exit 2, like every other user mistake, instead of click's boxed usage panel."""

    def make_context(self, info_name, args, parent=None, **extra):  # noqa: ANN001, ANN201
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except UsageError as e:
            _usage_error(e)

    def invoke(self, ctx):  # noqa: ANN001, ANN201
        try:
            return super().invoke(ctx)
        except UsageError as e:
            _usage_error(e)


def _usage_error(e: UsageError) -> None:
    path = e.ctx.command_path if e.ctx is not None else "reasonflux"
    msg = " ".join(e.format_message().split())
    print(f"error: {path}: {msg} (see {path} --help)", file=sys.stderr)
    raise SystemExit(e.exit_code)


app = typer.Typer(
    cls=OneLineErrors,
    name="reasonflux",
    help="Solve, evaluate, reason with thought templates, synthesize trajectories and fine-tune reasoning models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"reasonflux {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="print the version")) -> None:
    """reasonflux: reasoning models end to end."""


def _register() -> None:
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"reasonflux.commands.{name}").register(app)


_register()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
