"""Token-length statistics of an SFT set under the training chat format (deepseek-r1 with the
reasoning kept): distribution, share over the cutoff, a terminal histogram and a PNG.

    reasonflux data stats trajectories.jsonl --tokenizer MODEL_DIR --png lengths.png
"""

from __future__ import annotations

from typing import Any

import numpy as np

DEFAULT_CUTOFF = 16384
BAR = "█"


def token_lengths(convs: list[list[dict[str, str]]], tokenizer: Any, fmt: str = "deepseek-r1") -> list[int]:
    from reasonflux.chat import render

    texts = [render(fmt, c, tokenizer=tokenizer, add_generation_prompt=False) for c in convs]
    enc = tokenizer(texts, add_special_tokens=False)["input_ids"]
    return [len(x) for x in enc]


def summary(lengths: list[int], cutoff: int = DEFAULT_CUTOFF) -> dict[str, Any]:
    a = np.asarray(lengths or [0])
    return {
        "examples": len(lengths),
        "tokens": int(a.sum()),
        "mean": round(float(a.mean()), 1),
        "median": float(np.median(a)),
        "p90": float(np.percentile(a, 90)),
        "p99": float(np.percentile(a, 99)),
        "max": int(a.max()),
        "cutoff": cutoff,
        "over_cutoff": int((a > cutoff).sum()),
        "share_over_cutoff": round(float((a > cutoff).mean()), 4) if lengths else 0.0,
    }


def histogram(lengths: list[int], bins: int = 12, width: int = 40) -> str:
    if not lengths:
        return "(no examples)"
    counts, edges = np.histogram(lengths, bins=bins)
    top = max(1, counts.max())
    rows = []
    for c, lo, hi in zip(counts, edges[:-1], edges[1:]):
        rows.append(f"{int(lo):>7}-{int(hi):<7} {BAR * int(round(width * c / top)):<{width}} {c}")
    return "\n".join(rows)


def save_png(lengths: list[int], path: str, cutoff: int = DEFAULT_CUTOFF) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.hist(lengths, bins=40, color="#4c72b0")
    ax.axvline(cutoff, color="#c44e52", linestyle="--", label=f"cutoff {cutoff}")
    ax.set_xlabel("tokens per example (training chat format)")
    ax.set_ylabel("examples")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
