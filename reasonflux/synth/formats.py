"""SFT record formats: our ``messages`` JSONL and the forms other trainers read.

    messages     {"messages": [{"role": "user", "content": ...}, {"role": "assistant", ...}]}
    sharegpt     {"conversations": [{"from": "human", "value": ...}, {"from": "gpt", ...}], "system": ...}
    alpaca       {"instruction": ..., "input": "", "output": ..., "system": ..., "history": [[u, a], ...]}
    hf           a datasets.Dataset saved with save_to_disk (column "messages")
    llamafactory sharegpt JSON plus a dataset_info.json entry named ReasonFlux-F1

Loading auto-detects messages / sharegpt / alpaca rows from JSON, JSONL, Parquet, a saved HF
dataset directory or a hub id (e.g. Gen-Verse/ReasonFlux-F1-SFT).

    reasonflux data export runs/synth/trajectories.jsonl --format llamafactory --out data/
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from reasonflux.errors import UserError

FORMATS = ("messages", "sharegpt", "alpaca", "hf", "llamafactory")
LLAMAFACTORY_NAME = "ReasonFlux-F1"
LLAMAFACTORY_FILE = "reasonflux_f1_sft.json"
PUBLISHED_SFT = "Gen-Verse/ReasonFlux-F1-SFT"
_SHAREGPT_ROLE = {"user": "human", "assistant": "gpt", "system": "system"}
_SHAREGPT_ROLE_BACK = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}


def detect(row: dict[str, Any]) -> str:
    if isinstance(row.get("messages"), list):
        return "messages"
    if isinstance(row.get("conversations"), list):
        return "sharegpt"
    if "instruction" in row and "output" in row:
        return "alpaca"
    raise ValueError(f"row is none of messages/sharegpt/alpaca (keys: {', '.join(sorted(row)) or 'none'})")


def to_messages(row: dict[str, Any]) -> list[dict[str, str]]:
    """Normalise one row of any supported form to chat messages."""
    kind = detect(row)
    if kind == "messages":
        msgs = [{"role": str(m["role"]), "content": str(m["content"])} for m in row["messages"]]
    elif kind == "sharegpt":
        msgs = []
        if row.get("system"):
            msgs.append({"role": "system", "content": str(row["system"])})
        for m in row["conversations"]:
            role = _SHAREGPT_ROLE_BACK.get(str(m.get("from", m.get("role", ""))))
            if role is None:
                raise ValueError(f"unknown sharegpt role {m.get('from')!r}")
            msgs.append({"role": role, "content": str(m.get("value", m.get("content", "")))})
    else:
        msgs = [{"role": "system", "content": str(row["system"])}] if row.get("system") else []
        for u, a in row.get("history") or []:
            msgs += [{"role": "user", "content": str(u)}, {"role": "assistant", "content": str(a)}]
        user = str(row["instruction"]) + (("\n" + str(row["input"])) if row.get("input") else "")
        msgs += [{"role": "user", "content": user}, {"role": "assistant", "content": str(row["output"])}]
    if not msgs or msgs[-1]["role"] != "assistant":
        raise ValueError("conversation does not end with an assistant turn")
    return msgs


def from_messages(msgs: list[dict[str, str]], fmt: str) -> dict[str, Any]:
    if fmt == "messages":
        return {"messages": msgs}
    system = "".join(m["content"] for m in msgs if m["role"] == "system")
    turns = [m for m in msgs if m["role"] != "system"]
    if fmt in ("sharegpt", "llamafactory"):
        row: dict[str, Any] = {"conversations": [{"from": _SHAREGPT_ROLE[m["role"]], "value": m["content"]} for m in turns]}
        if system or fmt == "llamafactory":
            # LLaMA-Factory's converter reads example[columns.system] for every row: a row without the
            # key (or a file where no row has one) fails with KeyError 'system'. "" means no system prompt.
            row["system"] = system
        return row
    if fmt == "alpaca":
        pairs = [(turns[i]["content"], turns[i + 1]["content"]) for i in range(0, len(turns) - 1, 2)]
        *history, (user, answer) = pairs
        row = {"instruction": user, "input": "", "output": answer}
        if system:
            row["system"] = system
        if history:
            row["history"] = [list(p) for p in history]
        return row
    raise UserError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def read_rows(path: str | Path) -> Iterable[tuple[int, dict[str, Any]]]:
    """(line number, row) from JSONL, a JSON list, Parquet or a saved HF dataset; bad lines raise
    UserError naming the file and line."""
    p = Path(path)
    if p.is_dir():
        import datasets

        ds = datasets.load_from_disk(str(p))
        for i, row in enumerate(ds, 1):
            yield i, dict(row)
        return
    if p.suffix == ".parquet":
        import datasets

        for i, row in enumerate(datasets.Dataset.from_parquet(str(p)), 1):
            yield i, dict(row)
        return
    text = p.read_text(encoding="utf-8")
    if p.suffix == ".json" and text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise UserError(f"{p}: not valid JSON ({e.msg} at line {e.lineno})") from None
        for i, row in enumerate(data, 1):
            yield i, row
        return
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"{p}:{i}: not valid JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise UserError(f"{p}:{i}: expected a JSON object")
        yield i, row


def read_source(source: str) -> tuple[Iterable[tuple[int, dict[str, Any]]], str]:
    """(numbered rows, where) from a local file/dir or, for an ``owner/name`` id, the hub's train split."""
    p = Path(source)
    if p.exists():
        return read_rows(p), str(p)
    if source.startswith((".", "/", "~")) or source.count("/") != 1:
        raise UserError(f"data file not found: {source}")
    try:
        import datasets

        ds = datasets.load_dataset(source, split="train")
    except Exception as e:  # noqa: BLE001 - hub errors come in many types
        raise UserError(f"could not load {source!r} from the hub: {str(e).splitlines()[0]}") from None
    return ((i, dict(r)) for i, r in enumerate(ds, 1)), source


def load_conversations(source: str) -> list[list[dict[str, str]]]:
    """Conversations from a local file/dir or a hub dataset id, auto-detecting the row form."""
    rows, where = read_source(source)
    convs = []
    for i, row in rows:
        try:
            convs.append(to_messages(row))
        except (ValueError, KeyError, TypeError) as e:
            raise UserError(f"{where}:{i}: {e}") from None
    return convs


def llamafactory_dataset_info(file_name: str = LLAMAFACTORY_FILE, name: str = LLAMAFACTORY_NAME) -> dict[str, Any]:
    """A dataset_info.json entry for sharegpt rows as written by :func:`export`."""
    return {
        name: {
            "file_name": file_name,
            "formatting": "sharegpt",
            "columns": {"messages": "conversations", "system": "system"},
            "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt", "system_tag": "system"},
        }
    }


def export(convs: list[list[dict[str, str]]], fmt: str, out: str | Path) -> list[Path]:
    """Write conversations in ``fmt``; returns the files written. ``out`` is a file for
    messages/sharegpt/alpaca and a directory for hf/llamafactory."""
    out = Path(out)
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "hf":
        import datasets

        datasets.Dataset.from_list([{"messages": c} for c in convs]).save_to_disk(str(out))
        return [out]
    if fmt == "llamafactory":
        out.mkdir(parents=True, exist_ok=True)
        data = out / LLAMAFACTORY_FILE
        data.write_text(json.dumps([from_messages(c, fmt) for c in convs], ensure_ascii=False, indent=1))
        info_path = out / "dataset_info.json"
        info = json.loads(info_path.read_text()) if info_path.exists() else {}
        info.update(llamafactory_dataset_info())
        info_path.write_text(json.dumps(info, indent=2))
        return [data, info_path]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for c in convs:
            f.write(json.dumps(from_messages(c, fmt), ensure_ascii=False) + "\n")
    return [out]
