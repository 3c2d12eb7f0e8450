"""One knob, one name: a config dataclass field is the CLI flag and the YAML key.

Precedence is field default < preset/recipe < YAML file (``--config``) < command-line flag. Unknown
YAML keys are errors. ``save_config`` writes the resolved config beside every output.

A command is declared once, as a dataclass plus a function taking it::

    @dataclass
    class GradeConfig:
        input: str = field(default="", metadata={"help": "rows to grade", "argument": True, "required": True})
        kind: str = field(default="math", metadata={"help": "math or choice", "choices": ("math", "choice")})
        workers: int = field(default=2, metadata={"help": "grading processes", "min": 0})

    register(app, "grade", GradeConfig, run_grade, help="Grade a JSONL file.")

``register`` builds the typer command from the fields (flags ``--kind``; underscores become dashes),
so the flag, the YAML key and the field cannot drift apart. Field metadata:

``help``      the help line;  ``argument`` a positional argument;  ``cli: False`` YAML only;
``short``     a short flag (``-o``);  ``aliases`` extra visible flags (``--output-dir``);
``old``       former names, still read as hidden flags and as YAML keys (renamed knobs keep working);
``min`` / ``max`` / ``gt``  numeric bounds, ``choices`` allowed values (a tuple, or a dict of
              value -> one-line description, listed in ``--help``); ``required`` must be set;
``path``      file / dir / file_or_dir / path_or_hub / library / out_file / out_dir / out_any: checked by
              :func:`check_inputs` before the command runs (``path_if``: a predicate on the config);
``panel``     the ``--help`` panel (default: chosen by field name, see ``PANELS``).

Every check runs while the config is resolved, before a command touches a model or a file, and
fails as one :class:`ConfigError` line naming the flag (or the YAML key and file).
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from pathlib import Path
from typing import Any, Callable, TypeVar

import yaml

T = TypeVar("T")

# --help panels: every command groups its options the same way.
P_MODEL, P_SAMPLING, P_DATA, P_OUTPUT, P_SCALE, P_TRAIN, P_CONFIG = (
    "Model and backend", "Sampling", "Data", "Output", "Scale", "Training", None)  # None: typer's "Options"
PANELS: dict[str, str] = {}
for _panel, _names in {
    P_MODEL: "model backend format dtype device batch_size tensor_parallel_size gpu_memory_utilization max_model_len "
             "base_url api_key_env concurrency request_timeout max_retries navigator navigator_backend navigator_format "
             "navigator_base_url solver solver_backend solver_format solver_base_url tokenizer engine embed_model retriever "
             "attn_implementation sdpa_backend",
    P_SAMPLING: "temperature top_p n seed max_tokens think max_thinking_tokens wait system prefill prompt_style "
                "navigator_max_tokens solver_max_tokens solver_think templates templates_k k json_retries max_solver_steps "
                "mode keep kind prefilled timeout",
    P_DATA: "benchmarks data_dir limit problems data input text source query library file key ngram decontaminate dedup "
            "cutoff_len truncate cutoff run runs run_a run_b",
    P_OUTPUT: "out name json quiet markdown png all_reported default_domain to",
    P_SCALE: "executor replicas address gpus_per_replica cpus_per_replica data_parallel shard_size shard_retries "
             "request_batch chunk workers nodes gpus_per_node gpus gpu_memory_gb master_port deepspeed estimate print_launch",
    P_TRAIN: "learning_rate num_train_epochs max_steps lr_scheduler_type warmup_ratio weight_decay "
             "per_device_train_batch_size gradient_accumulation_steps max_grad_norm optim bf16 memory_mode compile "
             "checkpoint_layers activation_budget_gb logging_steps save_steps save_total_limit report_to resume",
}.items():
    PANELS.update(dict.fromkeys(_names.split(), _panel))


class ConfigError(ValueError):
    """A bad config value or file; the CLI prints it as one line."""


def _field_type(tp: Any) -> Any:
    """The runtime type of a field annotation, with Optional[...] unwrapped."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _field_type(args[0]) if len(args) == 1 else str
    return tp


def _coerce(name: str, value: Any, tp: Any, where: str = "") -> Any:
    if value is None:
        return None
    base = _field_type(tp)
    origin = typing.get_origin(base)
    try:
        if base is bool:
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if base in (int, float):
            if isinstance(value, bool) or (base is int and isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return base(value)
        if base is str:
            if isinstance(value, (dict, list)):
                raise ValueError(value)
            return str(value)
        if origin is list:
            (item,) = typing.get_args(base) or (str,)
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, (list, tuple)):
                value = [value]
            return [_coerce(name, v, item, where) for v in value]
        if origin is dict or base is dict:
            if not isinstance(value, dict):
                raise ValueError(value)
            return value
    except (TypeError, ValueError):
        kind = getattr(base, "__name__", None) or ("list" if origin is list else str(base))
        raise ConfigError(f"{where}{name}: cannot read {value!r} as {kind}") from None
    return value


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def load_yaml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"config file not found: {p}")
    if p.is_dir():
        raise ConfigError(f"config file {p} is a directory; give a YAML file")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not a text file (expected YAML)") from None
    except OSError as e:
        raise ConfigError(f"cannot read config file {p}: {e.strerror or e}") from None
    if not text.strip():
        raise ConfigError(f"{p}: config file is empty (expected YAML keys such as the command's flags)")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f"{p}:{mark.line + 1}" if mark is not None else str(p)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{at}: not valid YAML ({problem})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: top level must be a mapping of config keys")
    return data


def _old_names(cls: type) -> dict[str, str]:
    """Former names of renamed fields -> the field's current name."""
    out: dict[str, str] = {}
    for f in dataclasses.fields(cls):
        for old in f.metadata.get("old", ()):
            out[old.lstrip("-").replace("-", "_")] = f.name
    return out


def _choices(meta: Any) -> dict[str, str] | None:
    ch = meta.get("choices")
    if ch is None:
        return None
    if callable(ch):
        ch = ch()
    return dict(ch) if isinstance(ch, dict) else {str(c): "" for c in ch}


def check_value(f: dataclasses.Field, value: Any, label: str) -> None:
    """Bounds and choices of one field (``label`` names it: ``--n`` or ``file.yaml: n``)."""
    meta = f.metadata
    if value is None:
        return
    items = value if isinstance(value, list) else [value]
    for v in items:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if "min" in meta and v < meta["min"]:
                raise ConfigError(f"{label} must be at least {meta['min']} (got {v})")
            if "gt" in meta and v <= meta["gt"]:
                raise ConfigError(f"{label} must be greater than {meta['gt']} (got {v})")
            if "max" in meta and v > meta["max"]:
                raise ConfigError(f"{label} must be at most {meta['max']} (got {v})")
        choices = _choices(meta)
        if choices is not None and isinstance(v, str) and v not in choices:
            allowed = meta.get("choices_extra")  # e.g. "a path to a JSON file"; checked by the command
            if allowed and allowed(v):
                continue
            raise ConfigError(f"{label}: unknown value {v!r}; choose one of {', '.join(choices)}")


DATA_SUFFIXES = (".jsonl", ".json", ".parquet", ".yaml", ".yml", ".csv", ".txt", ".gguf")


def _is_blank_file(p: Path) -> bool:
    if p.stat().st_size == 0:
        return True
    if p.stat().st_size > 1 << 16:
        return False
    return not p.read_bytes().strip()


def check_path(kind: str, value: Any, label: str) -> None:
    """Input paths, checked before anything loads: ``file`` (an existing, non-empty file), ``dir``,
    ``file_or_dir``, ``path_or_hub`` (a local file/dir, or else a hub id: a name with a data
    suffix must exist), ``library`` (``builtin``/``none`` or comma-separated files/dirs)."""
    if _empty(value):
        return
    if isinstance(value, list):
        for v in value:
            check_path(kind, v, label)
        return
    if kind == "library":
        if str(value).lower() in ("builtin", "none"):
            return
        for part in str(value).split(","):
            if part.strip() and part.strip().lower() != "builtin":
                check_path("file_or_dir", part.strip(), label)
        return
    p = Path(str(value)).expanduser()
    if kind.startswith("out"):
        _check_out(kind, p, label)
        return
    if not p.exists():
        if kind == "path_or_hub" and p.suffix.lower() not in DATA_SUFFIXES and not str(value).startswith((".", "/", "~")):
            return  # a hub id (org/name): the loader reports it if it does not exist
        raise ConfigError(f"{_what(label, 'directory' if kind == 'dir' else 'file')} not found: {value}")
    if kind == "file" and p.is_dir():
        raise ConfigError(f"{_what(label, 'file')} is a directory: {value}")
    if kind == "dir" and not p.is_dir():
        raise ConfigError(f"{_what(label, 'directory')} is a file: {value}")
    if p.is_file():
        try:
            blank = _is_blank_file(p)
        except OSError as e:
            raise ConfigError(f"{_what(label, 'file')} cannot be read ({e.strerror or e}): {value}") from None
        if blank:
            raise ConfigError(f"{_what(label, 'file')} is empty: {value}")


def _check_out(kind: str, p: Path, label: str) -> None:
    """An output path must be creatable: no file where a directory is needed, a writable parent."""
    import os

    lab = f"{label}: " if label.startswith("-") or ": " in label else f"{label} "
    if kind == "out_dir" and p.exists() and not p.is_dir():
        raise ConfigError(f"{lab}{p}: is a file, expected a directory")
    if kind == "out_file" and p.is_dir():
        raise ConfigError(f"{lab}{p}: is a directory, expected a file")
    parent = p if kind == "out_dir" and p.is_dir() else p.parent
    q = parent
    while not q.exists() and q != q.parent:
        q = q.parent
    if not q.is_dir():
        raise ConfigError(f"{lab}{p}: {q} is a file, so no directory can be created under it")
    if not os.access(q, os.W_OK | os.X_OK):
        raise ConfigError(f"{lab}{p}: {q} is not writable")
    if p.exists() and not os.access(p, os.W_OK):
        raise ConfigError(f"{lab}{p}: not writable")


def _what(label: str, noun: str) -> str:
    """'input file', 'run directory', '--problems: file', 'cfg.yaml: data file'."""
    if label.startswith("-") or ": " in label:
        return f"{label}: {noun}"
    name = label.lower().replace("_", " ")
    if name == "runs":
        name = "run"
    return noun if name in (noun, "file") else f"{name} {noun}"


def _empty(v: Any) -> bool:
    return v is None or (isinstance(v, (str, list, dict)) and not (v.strip() if isinstance(v, str) else v))


def resolve(cls: type[T], *layers: dict[str, Any] | None, source: str = "config",
            sources: list[str] | None = None, labels: dict[str, str] | None = None) -> T:
    """Build ``cls`` from layers of overrides, later layers winning; None values are skipped.

    ``sources`` names each layer in error messages ("cli" means command-line flags); without it every
    layer is ``source``. Unknown keys, unreadable values, out-of-range numbers, unknown choices and
    missing required settings raise :class:`ConfigError`. ``labels`` overrides how a command-line
    value is named (the old flag name a user typed).
    """
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    old = _old_names(cls)
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for i, layer in enumerate(layers):
        src = sources[i] if sources and i < len(sources) else source
        for key, value in (layer or {}).items():
            k = str(key).replace("-", "_")
            k = old.get(k, k) if k not in fields else k
            if k not in fields:
                known = ", ".join(sorted(fields))
                raise ConfigError(f"{src}: unknown key {key!r} (known: {known})" if src != "cli"
                                  else f"unknown option {flag_name(k)}")
            if value is None:
                continue
            label = (labels or {}).get(k, flag_name(k)) if src == "cli" else f"{src}: {k}"
            values[k] = _coerce(k, value, hints[k], where="" if src == "cli" else f"{src}: ")
            check_value(fields[k], values[k], label)
            origin[k] = label
    missing = [
        f.name for f in fields.values()
        if f.name not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"missing required setting(s): {', '.join(missing)}")
    cfg = cls(**values)
    cfg.__dict__["_origin"] = origin  # where each value came from, for check_inputs' messages
    return cfg


def check_inputs(cfg: Any) -> None:
    """What a command needs before it starts: ``required`` settings are set, input paths exist and
    are not empty, output paths can be created (``metadata["path"]``). Run by the CLI after
    :func:`resolve` and before the command body, so a mistake costs no model load."""
    origin = cfg.__dict__.get("_origin", {})
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if f.metadata.get("required") and _empty(value):
            what = f.name.upper() if f.metadata.get("argument") else flag_name(f.name)
            hint = f" ({f.metadata['help']})" if f.metadata.get("help") else ""
            raise ConfigError(f"missing {what}{hint}")
    for f in dataclasses.fields(cfg):
        if f.metadata.get("path") and f.metadata.get("path_if", lambda c: True)(cfg):
            what = f.name if f.metadata.get("argument") else origin.get(f.name, flag_name(f.name))
            check_path(f.metadata["path"], getattr(cfg, f.name), what)


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def save_config(cfg: Any, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False, allow_unicode=True))
    return p


def _cli_type(tp: Any) -> Any:
    base = _field_type(tp)
    if base in (int, float, bool, str):
        return base
    return str  # lists are given comma-separated, dicts only in YAML


def yaml_descriptions(package: str, names: list[str] | tuple[str, ...], subdir: str = "") -> dict[str, str]:
    """name -> the first comment line of ``package/subdir/name.yaml`` (what a preset or recipe is)."""
    import re
    from importlib import resources

    out = {}
    for n in names:
        try:
            f = resources.files(package).joinpath(*(p for p in (subdir, f"{n}.yaml") if p))
            lines = f.read_text().splitlines()
        except OSError:
            lines = []
        head = []
        for ln in lines:
            if not ln.startswith("#"):
                break
            head.append(ln.lstrip("#").strip())
        text = " ".join(head)
        first = re.split(r"(?<=[.;])\s", text, maxsplit=1)[0].rstrip(";")
        if len(first) > 62:
            first = first[:62].rsplit(" ", 1)[0].rstrip(",;:") + " …"
        out[n] = first
    return out


def _listing(title: str, items: dict[str, str]) -> str:
    width = max((len(k) for k in items), default=0)
    lines = [f"[bold]{title}[/bold]"] + [f"  [cyan]{k.ljust(width)}[/cyan]  {v}".rstrip() for k, v in items.items()]
    return "\n".join(lines)


def register(
    app: Any,
    name: str,
    cls: type,
    run: Callable[[Any], Any],
    *,
    help: str,
    presets: Callable[[str], dict[str, Any]] | None = None,
    preset_flag: str = "preset",
    config_option: bool = True,
    listings: dict[str, dict[str, str] | Callable[[], dict[str, str]]] | None = None,
    precheck: Callable[[Any], None] | None = None,
    panels: dict[str, str] | None = None,
) -> None:
    """Add command ``name`` to typer ``app`` whose options are the fields of ``cls``.

    Fields with ``metadata={"argument": True}`` become positional arguments; ``aliases`` lists
    extra visible flag names (``--teacher`` for ``model``); fields with
    ``metadata={"cli": False}`` are YAML-only. With ``presets``, ``--preset NAME`` loads a YAML layer
    below ``--config``; ``preset_flag`` renames that option (``--recipe``); when ``cls`` has a
    (YAML-only) field of that name, the preset is recorded there and a ``--config`` file may name it.
    ``listings`` (title -> {name: one line}) are printed at the end of ``--help``; fields with a
    described ``choices`` dict are listed there too. ``precheck(cfg)`` (the command's own cheap
    validation) runs before :func:`check_inputs`, so setting mistakes are named before file ones.
    ``panels`` (field -> panel) overrides the default ``--help`` panel of a field for this command.
    """
    import typer

    hints = _hints(cls)
    params: list[inspect.Parameter] = []
    annotations: dict[str, Any] = {}
    old_params: dict[str, tuple[str, str]] = {}  # hidden parameter -> (field, old flag)
    epilog: dict[str, dict[str, str]] = {}
    taken = set()
    for f in dataclasses.fields(cls):
        for d in [flag_name(f.name), *f.metadata.get("aliases", ()), f.metadata.get("short")]:
            if d:
                taken.add(d)
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if meta.get("cli") is False:
            continue
        tp = _cli_type(hints[f.name])
        if meta.get("argument") and typing.get_origin(_field_type(hints[f.name])) is list:
            tp = list[str]  # a list argument takes any number of positional values (reasonflux report RUN...)
        helptext = meta.get("help", "")
        choices = _choices(meta)
        if choices and any(choices.values()):
            epilog.setdefault(f"{meta.get('choices_title', 'Values')} ({flag_name(f.name)})", choices)
        elif choices and "|" not in helptext and " or " not in helptext:
            helptext = f"{helptext} [{' | '.join(choices)}]".strip()
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        if has_default:
            default_val = _default(f)
            if isinstance(default_val, list):
                default_val = ",".join(map(str, default_val))
            if default_val not in (None, "", []) and not meta.get("argument"):
                helptext = f"{helptext} (default: {default_val})".strip()
        if meta.get("required") and not meta.get("argument"):
            helptext = f"[red]\\[required][/red] {helptext}"
        panel = meta.get("panel") or (panels or {}).get(f.name) or PANELS.get(f.name) or "Options"
        flag = flag_name(f.name)
        if meta.get("argument"):
            required = bool(meta.get("required"))
            info = typer.Argument(... if required else None, help=helptext, show_default=False,
                                  metavar=f.name.upper() + ("..." if tp == list[str] else ""), rich_help_panel=None)
        elif _field_type(hints[f.name]) is bool:
            info = typer.Option(None, f"{flag}/--no-{f.name.replace('_', '-')}", help=helptext, show_default=False,
                                rich_help_panel=panel)
        else:
            short = meta.get("short")
            decls = [flag] + list(meta.get("aliases", ())) + ([short] if short else [])
            info = typer.Option(None, *decls, help=helptext, show_default=False, rich_help_panel=panel)
        ann = typing.Optional[tp]
        annotations[f.name] = ann
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=ann))
        for i, o in enumerate(meta.get("old", ())):
            oflag = flag_name(o.lstrip("-").replace("-", "_"))
            if oflag in taken:
                continue
            taken.add(oflag)
            pname = f"old_{f.name}_{i}"
            old_params[pname] = (f.name, oflag)
            if _field_type(hints[f.name]) is bool:
                oinfo = typer.Option(None, f"{oflag}/--no-{oflag[2:]}", hidden=True)
            else:
                oinfo = typer.Option(None, oflag, hidden=True)
            annotations[pname] = typing.Optional[_cli_type(hints[f.name])]
            params.append(inspect.Parameter(pname, inspect.Parameter.KEYWORD_ONLY, default=oinfo, annotation=annotations[pname]))
    if presets is not None:
        annotations[preset_flag] = typing.Optional[str]
        params.append(inspect.Parameter(preset_flag, inspect.Parameter.KEYWORD_ONLY,
                                        default=typer.Option(None, help=f"named {preset_flag} (YAML shipped with reasonflux; listed below)",
                                                             rich_help_panel=P_CONFIG),
                                        annotation=typing.Optional[str]))
    if config_option:
        annotations["config"] = typing.Optional[str]
        params.append(inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY,
                                        default=typer.Option(None, help="YAML file of settings (keys = these flags, with underscores)",
                                                             rich_help_panel=P_CONFIG),
                                        annotation=typing.Optional[str]))
    # arguments first, then options in panel order
    order = {None: -1, P_CONFIG: 0, P_MODEL: 1, P_SAMPLING: 2, P_DATA: 3, P_OUTPUT: 4, P_SCALE: 5, P_TRAIN: 6}

    def command(**kwargs: Any) -> Any:
        from reasonflux.errors import run_cli

        def build_and_run() -> Any:
            layers: list[dict[str, Any]] = []
            sources: list[str] = []
            labels: dict[str, str] = {}
            for pname, (fname, oflag) in old_params.items():
                v = kwargs.pop(pname, None)
                if v is not None:
                    if kwargs.get(fname) is not None:
                        raise ConfigError(f"{flag_name(fname)} given twice (once as {oflag})")
                    kwargs[fname] = v
                    labels[fname] = oflag
            preset = kwargs.pop(preset_flag, None) if presets is not None else None
            cfg_path = kwargs.pop("config", None)
            file_layer = load_yaml(cfg_path) if cfg_path else None
            if presets is not None and not preset and file_layer and preset_flag in hints:  # a field records it
                preset = file_layer.get(preset_flag)
            if preset:
                layers.append(presets(preset))  # type: ignore[misc]
                sources.append(f"{preset_flag} {preset}")
            if file_layer is not None:
                layers.append(file_layer)
                sources.append(str(cfg_path))
            layers.append({k: v for k, v in kwargs.items() if v is not None})
            sources.append("cli")
            cfg = resolve(cls, *layers, source=cfg_path or "config", sources=sources, labels=labels)
            if precheck is not None:
                precheck(cfg)
            check_inputs(cfg)
            if getattr(cfg, "quiet", False):  # --quiet: no library progress bars either
                from reasonflux.progress import silence_third_party

                silence_third_party()
            return run(cfg)

        return run_cli(build_and_run)

    params.sort(key=lambda p: order.get(getattr(p.default, "rich_help_panel", None), 7)
                if not isinstance(p.default, typer.models.ArgumentInfo) else -2)
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = annotations
    command.__name__ = name.replace("-", "_")
    command.__doc__ = help
    for title, items in (listings or {}).items():
        epilog[title] = items() if callable(items) else items
    text = "\n\n".join(_listing(t, items) for t, items in epilog.items()) or None
    app.command(name, help=help, epilog=text)(command)
