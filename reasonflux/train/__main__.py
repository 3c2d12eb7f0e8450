"""``python -m reasonflux.train``: the entry point each training process runs (torchrun,
accelerate launch, or one device); same flags and YAML keys as ``reasonflux train``.

    torchrun --standalone --nproc_per_node 8 -m reasonflux.train --recipe f1-7b --data sft.jsonl
"""

from __future__ import annotations

import typer

from reasonflux.commands.train import register

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
register(app)

if __name__ == "__main__":
    app()
