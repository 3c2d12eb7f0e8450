"""One knob, one name: a config dataclass field is the CLI flag and the YAML key.

Precedence is field default < YAML file (``--config``) < command-line flag. Unknown YAML keys are
errors. ``save_config`` writes the resolved config beside every output.

A command is declared once, as a dataclass plus a function taking it::

    @dataclass
    class GradeConfig:
        input: str = field(metadata={"help": "rows to grade", "argument": True})
        kind: str = field(default="math", metadata={"help": "math or choice"})

    register(app, "grade", GradeConfig, run_grade, help="Grade a JSONL file.")

``register`` builds the typer command from the fields (flags ``--kind``; underscores become dashes),
so the flag, the YAML key and the field cannot drift apart.
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


class ConfigError(ValueError):
    """A bad config value or file; the CLI prints it as one line."""


def _field_type(tp: Any) -> Any:
    """The runtime type of a field annotation, with Optional[...] unwrapped."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _field_type(args[0]) if len(args) == 1 else str
    return tp


def _coerce(name: str, value: Any, tp: Any) -> Any:
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
            return base(value)
        if base is str:
            return str(value)
        if origin is list:
            (item,) = typing.get_args(base) or (str,)
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            return [_coerce(name, v, item) for v in value]
        if origin is dict or base is dict:
            if not isinstance(value, dict):
                raise ValueError(value)
            return value
    except (TypeError, ValueError):
        raise ConfigError(f"config key {name!r}: cannot read {value!r} as {getattr(base, '__name__', base)}") from None
    return value


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def load_yaml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: top level must be a mapping of config keys")
    return data


def resolve(cls: type[T], *layers: dict[str, Any] | None, source: str = "config") -> T:
    """Build ``cls`` from layers of overrides, later layers winning; None values are skipped."""
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            k = key.replace("-", "_")
            if k not in names:
                raise ConfigError(f"{source}: unknown key {key!r} (known: {', '.join(sorted(names))})")
            if value is not None:
                values[k] = _coerce(k, value, hints[k])
    missing = [
        f.name for f in dataclasses.fields(cls)
        if f.name not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"missing required setting(s): {', '.join(missing)}")
    return cls(**values)


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
) -> None:
    """Add command ``name`` to typer ``app`` whose options are the fields of ``cls``.

    Fields with ``metadata={"argument": True}`` become positional arguments; ``aliases`` lists
    extra flag names shown first (``--teacher`` for ``model``); fields with
    ``metadata={"cli": False}`` are YAML-only. With ``presets``, ``--preset NAME`` loads a YAML layer
    below ``--config``; ``preset_flag`` renames that option (``--recipe``); when ``cls`` has a
    (YAML-only) field of that name, the preset is recorded there and a ``--config`` file may name it.
    """
    import typer

    hints = _hints(cls)
    params: list[inspect.Parameter] = []
    annotations: dict[str, Any] = {}
    cli_fields = []
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if meta.get("cli") is False:
            continue
        cli_fields.append(f.name)
        tp = _cli_type(hints[f.name])
        if meta.get("argument") and typing.get_origin(_field_type(hints[f.name])) is list:
            tp = list[str]  # a list argument takes any number of positional values (reasonflux report RUN...)
        helptext = meta.get("help", "")
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        if has_default:
            default_val = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            if isinstance(default_val, list):
                default_val = ",".join(map(str, default_val))
            if default_val not in (None, "", []):
                helptext = f"{helptext} (default: {default_val})".strip()
        flag = "--" + f.name.replace("_", "-")
        if meta.get("argument"):
            info = typer.Argument(None if has_default else ..., help=helptext, show_default=False)
        elif _field_type(hints[f.name]) is bool:
            info = typer.Option(None, f"{flag}/--no-{f.name.replace('_', '-')}", help=helptext, show_default=False)
        else:
            short = meta.get("short")
            decls = list(meta.get("aliases", ())) + [flag] + ([short] if short else [])
            info = typer.Option(None, *decls, help=helptext, show_default=False)
        ann = typing.Optional[tp]
        annotations[f.name] = ann
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=ann))
    if presets is not None:
        annotations[preset_flag] = typing.Optional[str]
        params.append(inspect.Parameter(preset_flag, inspect.Parameter.KEYWORD_ONLY,
                                        default=typer.Option(None, help=f"named {preset_flag} (YAML shipped with reasonflux)"),
                                        annotation=typing.Optional[str]))
    if config_option:
        annotations["config"] = typing.Optional[str]
        params.append(inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY,
                                        default=typer.Option(None, help="YAML file of settings (keys = these flags)"),
                                        annotation=typing.Optional[str]))

    def command(**kwargs: Any) -> Any:
        from reasonflux.errors import run_cli

        def build_and_run() -> Any:
            layers: list[dict[str, Any]] = []
            preset = kwargs.pop(preset_flag, None) if presets is not None else None
            cfg_path = kwargs.pop("config", None)
            file_layer = load_yaml(cfg_path) if cfg_path else None
            if presets is not None and not preset and file_layer and preset_flag in hints:  # a field records it
                preset = file_layer.get(preset_flag)
            if preset:
                layers.append(presets(preset))  # type: ignore[misc]
            if file_layer is not None:
                layers.append(file_layer)
            layers.append({k: v for k, v in kwargs.items() if v is not None})
            cfg = resolve(cls, *layers, source=cfg_path or "config")
            return run(cfg)

        return run_cli(build_and_run)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = annotations
    command.__name__ = name.replace("-", "_")
    command.__doc__ = help
    app.command(name, help=help)(command)
