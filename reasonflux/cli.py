"""The ``reasonflux`` command line. Each command lives in ``reasonflux/commands/<name>.py`` as a
config dataclass plus a ``main(cfg)`` function and registers itself here; heavy libraries are
imported inside ``main`` only, so ``reasonflux --help`` stays fast and torch-free.

    reasonflux --help
"""

from __future__ import annotations

import typer

from reasonflux import __version__

COMMAND_MODULES = ("solve", "grade", "evaluate", "templates", "reason", "synth", "data", "train")

app = typer.Typer(
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
