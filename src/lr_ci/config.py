"""The one config loader: find ``lr-ci.toml``, parse it, interpolate ``${NAME}``, validate with pydantic.

Every error is a :class:`~lr_ci.errors.ConfigError` that names the file, the line and the key, with a
"did you mean" for a misspelt key. Each check validates only its own table, so a check never pays for
building the models of the others; ``lr-ci config check`` validates them all.

A check's settings are a frozen standard-library dataclass carrying :data:`SETTINGS_CONFIG`: its defaults
need no pydantic, which loads only to validate a table that is actually written (pre-commit hooks on a
repository without a table start faster). Attribute docstrings become the JSON Schema's descriptions.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import os
import re
import stat
import sys
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from lr_ci._registry import settings_model, settings_tables, settings_validator, settings_validators
from lr_ci._report_paths import repository_root
from lr_ci._toml_lines import MAX_NESTING, KeyLines, ShapeLimitExceeded
from lr_ci.errors import (
    ConfigError,
    FieldError,
    RunEnvironmentError,
    RunEnvironmentSettingError,
    UnsetVariableError,
)
from lr_ci.redact import Redactor

CONFIG_FILENAME = "lr-ci.toml"
MAX_CONFIG_BYTES = 1 << 20
"""A config file larger than this is not a config file (lr-ci's own commented template is 6 kB)."""
MAX_CONFIG_VALUES = 50_000
"""Values (tables, arrays and scalars) in one file at most: 1 MiB of deeply nested inline tables would
otherwise become hundreds of MB once copied for ``${NAME}`` and validated."""
_ENV_REFERENCE = re.compile(r"\$(\$)?\{([^}]*)\}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
CREDENTIAL_NAME = re.compile(
    r"PASS|PWD|TOKEN|SECRET|KEY|CRED|AUTH|COOKIE|SESSION|PRIVATE|CERT|SIGNATURE|SALT|PIN(?:\b|_)|OTP|DSN",
    re.IGNORECASE,
)
"""Environment variable names that say they hold a credential: never shown, even when listed in a
table's ``public_env`` (which is refused for them)."""
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column \d+\)")

SettingsT = TypeVar("SettingsT")

# Set as ``__pydantic_config__`` on every settings dataclass: unknown keys are errors.
SETTINGS_CONFIG: dict[str, Any] = {"extra": "forbid", "use_attribute_docstrings": True}
_UNKNOWN_KEY = ("extra_forbidden", "unexpected_keyword_argument")
_MISSING_KEY = ("missing", "missing_keyword_only_argument", "missing_argument")


def find_config_file(start: Path) -> Path | None:
    """The nearest ``lr-ci.toml`` from ``start`` up to the repository root (only ``start`` outside a repo).

    Anything of that name counts, also a directory, a FIFO or a dangling symlink: reading it then says
    what is wrong, where skipping it would silently run every check on its defaults instead.
    """
    start = start.resolve()
    chain = [start, *start.parents]
    root = repository_root(start)
    search = chain[: chain.index(root) + 1] if root is not None else [start]
    return next((d / CONFIG_FILENAME for d in search if _present(d / CONFIG_FILENAME)), None)


def _present(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def display_path(path: Path) -> str:
    """The path as the user knows it: relative to the working directory when under it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


@dataclass
class ConfigFile:
    """A parsed ``lr-ci.toml`` (or none: ``path`` is ``None`` and every check runs on its defaults)."""

    path: Path | None = None
    tables: dict[str, Any] = field(default_factory=dict)
    key_lines: KeyLines = field(default_factory=lambda: KeyLines(""))

    @property
    def display(self) -> str:
        return display_path(self.path) if self.path else CONFIG_FILENAME

    def error(
        self, loc: tuple[str | int, ...], problem: str, kind: type[ConfigError] = ConfigError
    ) -> ConfigError:
        key = ".".join(str(part) for part in loc)
        return kind(self.display, self.key_lines.line_for(loc), key, problem)


def load_config(explicit: Path | None = None, start: Path | None = None) -> ConfigFile:
    """Read ``explicit`` (``--config``) or the file found from ``start``; check its table names."""
    path = explicit if explicit is not None else find_config_file(start or Path.cwd())
    if path is None:
        return ConfigFile()
    config = parse_config(path)
    errors = list(unknown_tables(config))
    if errors:
        raise errors[0]
    return config


class UnreadableConfigError(ConfigError):
    """The file could not be read at all (missing, a directory, a device, too large): ``config check``
    cannot list its problems, so it is exit 2 there too."""


def read_config_bytes(path: Path, display: str) -> bytes:
    """The bytes of a regular file of at most :data:`MAX_CONFIG_BYTES`; anything else is one clear error.

    Opened non-blocking so that a FIFO without a writer cannot hang the run, and checked to be a regular
    file before reading: ``/dev/zero``, ``/dev/stdin``, a FIFO or a directory is not a config file.
    """

    def unreadable(why: str) -> UnreadableConfigError:
        return UnreadableConfigError(display, None, "", f"cannot read the config file: {why}")

    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise unreadable(exc.strerror or str(exc)) from None
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise unreadable("it is a directory")
        if not stat.S_ISREG(mode):
            raise unreadable(f"it is not a regular file (a {_file_kind(mode)})")
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise unreadable(exc.strerror or str(exc)) from None
    finally:
        os.close(descriptor)
    if len(data) > MAX_CONFIG_BYTES:
        raise unreadable(f"it is larger than {MAX_CONFIG_BYTES >> 20} MiB")
    return data


def _file_kind(mode: int) -> str:
    kinds = [(stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")]
    return next(
        (name for test, name in kinds if test(mode)), "socket" if stat.S_ISSOCK(mode) else "special file"
    )


def parse_config(path: Path) -> ConfigFile:
    """Read and parse one config file; every problem is a :class:`ConfigError` at ``file:line``.

    The text is scanned for key positions before ``tomllib`` parses it: the scan also rejects values
    nested deeper than :data:`~lr_ci._toml_lines.MAX_NESTING` and keys longer than
    :data:`~lr_ci._toml_lines.MAX_KEY_PARTS` (or too many of them), which would otherwise exhaust
    ``tomllib``'s recursion (a RecursionError) or its memory (a dotted key of 100,000 parts). After
    parsing, more than :data:`MAX_CONFIG_VALUES` values is an error too: each is copied and validated.
    """
    display = display_path(path)
    raw = read_config_bytes(path, display)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(display, line, "", "the file is not valid UTF-8") from None
    if text.startswith("\ufeff"):  # TOML has no BOM; tomllib would say only "Invalid statement"
        raise ConfigError(
            display, 1, "", "the file starts with a byte order mark: save it as UTF-8 without BOM"
        )
    try:
        key_lines = KeyLines(text)
    except ShapeLimitExceeded as exc:
        raise ConfigError(display, exc.line, "", exc.problem) from None
    if sys.version_info >= (3, 11):  # imported here: a run without a config file never needs it
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        tables = tomllib.loads(text)
    except RecursionError:  # what the scan did not see as nesting still cannot be a crash
        raise ConfigError(display, None, "", f"nested more than {MAX_NESTING} levels deep") from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        position = _TOML_POSITION.search(message)
        problem = _TOML_POSITION.sub("", message)
        raise ConfigError(
            display, int(position.group(1)) if position else None, "", f"invalid TOML: {problem}"
        ) from None
    crowded = _past_value_limit(tables)
    if crowded is not None:
        raise ConfigError(
            display, key_lines.line_for(crowded), "", f"more than {MAX_CONFIG_VALUES} values in one file"
        )
    return ConfigFile(path=path, tables=tables, key_lines=key_lines)


def _past_value_limit(tables: dict[str, Any]) -> tuple[str, ...] | None:
    """The top-level key in which the document passes :data:`MAX_CONFIG_VALUES` values, if it does."""
    count = 0
    for name, value in tables.items():
        pending = [value]
        while pending:
            item = pending.pop()
            count += 1
            if count > MAX_CONFIG_VALUES:
                return (name,)
            if isinstance(item, dict):
                pending += item.values()
            elif isinstance(item, list):
                pending += item
    return None


def unknown_tables(config: ConfigFile) -> Iterator[ConfigError]:
    known = settings_tables()
    for name, value in config.tables.items():
        if name not in known:
            kind = "table" if isinstance(value, dict) else "key"
            yield config.error((name,), f"unknown {kind}{_did_you_mean(name, known)}")
        elif not isinstance(value, dict):
            yield config.error((name,), f"must be a table ([{name}]), not a {type(value).__name__}")


def _did_you_mean(name: str, candidates: typing.Iterable[str]) -> str:
    """A hint for a misspelt key; only for names a person could have meant to type (a key of thousands
    of characters is not a typo of one of ours, and difflib's time grows with the product)."""
    if len(name) > 64:
        return ""
    import difflib  # only when a key is unknown

    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


MAX_INTERPOLATED_BYTES = 4 << 20
"""Characters that ``${NAME}`` references may bring into one table, all together: an environment value
can be 128 kB, and 20,000 references to one took 3 GB and 70 s to copy and validate."""


@dataclass
class _Interpolated:
    """How much ``${NAME}`` has brought into the table being read (see :data:`MAX_INTERPOLATED_BYTES`)."""

    total: int = 0


def interpolate(
    config: ConfigFile,
    loc: tuple[str | int, ...],
    value: Any,
    redactor: Redactor,
    unset: list[ConfigError] | None = None,
    interpolated: _Interpolated | None = None,
    public: frozenset[str] = frozenset(),
) -> Any:
    """Replace ``${NAME}`` in every string with the environment variable (``$${`` is a literal ``${``).

    Every value read this way is registered with ``redactor`` as a credential, so it is masked in all
    output: secrets never live in the file, and a value from the environment may be one. An unset
    variable raises, unless ``unset`` is given: then it is recorded there and the reference kept. More
    than :data:`MAX_INTERPOLATED_BYTES` brought in by all references together is an error at the key
    that passes it. Names in ``public`` (a table's ``public_env``: user names) are not registered.
    """
    interpolated = interpolated if interpolated is not None else _Interpolated()
    if isinstance(value, dict):
        return {
            k: interpolate(config, (*loc, k), v, redactor, unset, interpolated, public)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            interpolate(config, (*loc, i), v, redactor, unset, interpolated, public)
            for i, v in enumerate(value)
        ]
    if not isinstance(value, str) or "${" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(1):
            return "${" + match.group(2) + "}"
        name = match.group(2)
        if not _ENV_NAME.match(name):
            raise config.error(loc, f"'${{{name}}}' is not a valid environment variable reference")
        if name not in os.environ:
            error = config.error(loc, f"environment variable {name} is not set", UnsetVariableError)
            if unset is None:
                raise error
            unset.append(error)
            return match.group(0)
        found = os.environ[name]
        interpolated.total += len(found)
        if interpolated.total > MAX_INTERPOLATED_BYTES:
            raise config.error(
                loc, f"${{NAME}} values add up to more than {MAX_INTERPOLATED_BYTES >> 20} MiB in one table"
            )
        if name not in public:
            redactor.add_credential(found)
        return found

    return _ENV_REFERENCE.sub(substitute, value)


def load_section(config: ConfigFile, table: str, model: type[SettingsT], redactor: Redactor) -> SettingsT:
    """Validate one table (``[table]``, missing means defaults) and return the check's settings."""
    if table not in config.tables:
        return model()  # the defaults, with no pydantic to load
    settings, errors = _validate_section(config, table, model, redactor)
    if settings is None:
        first = errors[0]
        if len(errors) > 1:
            first.message += f" (and {len(errors) - 1} more: run `lr-ci config check`)"
        raise first
    return settings


def _validate_section(
    config: ConfigFile,
    table: str,
    model: type[SettingsT],
    redactor: Redactor,
    unset: list[ConfigError] | None = None,
) -> tuple[SettingsT | None, list[ConfigError]]:
    try:
        raw = interpolate(
            config, (table,), config.tables.get(table, {}), redactor, unset, public=_public_env(config, table)
        )
    except ConfigError as exc:
        return None, [exc]
    from pydantic import ValidationError

    try:
        return _settings_validator(model)(raw), []
    except ValidationError as exc:
        return None, [_config_error(config, table, model, error) for error in exc.errors()]


def _public_env(config: ConfigFile, table: str) -> frozenset[str]:
    """The table's ``public_env`` names whose values may be shown (never one that names a credential;
    the table's model says why it refuses those)."""
    section = config.tables.get(table, {})
    names = section.get("public_env") if isinstance(section, dict) else None
    if not isinstance(names, list):
        return frozenset()
    return frozenset(n for n in names if isinstance(n, str) and not CREDENTIAL_NAME.search(n))


_VALIDATORS: dict[type[Any], Callable[[Any], Any]] = {}
_STRICT_SCALARS = frozenset({"int", "float", "bool", "str"})
_NOT_VALIDATION = frozenset({"serialization", "metadata", "ref", "function"})


def _settings_validator(model: type[SettingsT]) -> Callable[[Any], SettingsT]:
    """A validator for ``model`` whose scalars are strict and whose numbers are finite.

    Pydantic's lax mode reads ``true`` as the size 1, ``2.0`` as the count 2 and ``"10"`` as 10: a typo
    would configure something else instead of being an error. Strict mode for the whole model is not
    the answer either, since it also rejects the TOML array for a tuple and the string for an Enum.
    So the model's core schema is rewritten once: every ``int``, ``float``, ``bool`` and ``str`` becomes
    strict (a float field still takes an integer), every float rejects ``nan`` and ``inf`` (valid TOML,
    never a sensible duration, size or ratio) unless the field opts in with ``Field(allow_inf_nan=True)``,
    and a value typed ``Any`` (a JSON body) is checked for non-finite numbers too. A field that truly
    needs lax parsing says so with ``Field(strict=False)``. It applies to every table, present and
    future, without each check's settings having to remember it.
    """
    validate = _VALIDATORS.get(model)
    if validate is None:
        from pydantic import TypeAdapter
        from pydantic_core import SchemaValidator

        schema = copy.deepcopy(TypeAdapter(model).core_schema)
        _make_strict(schema)
        validate = _VALIDATORS[model] = SchemaValidator(schema).validate_python
    return typing.cast("Callable[[Any], SettingsT]", validate)


def _make_strict(schema: Any) -> None:
    """See :func:`_settings_validator`; iterative, so no schema is too deep for it."""
    pending, seen = [schema], set()
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, list):
            pending += node
            continue
        if not isinstance(node, dict):
            continue
        kind = node.get("type")
        if kind in _STRICT_SCALARS:
            node.setdefault("strict", True)  # Field(strict=False) opts a field out
            if kind == "float" and "allow_inf_nan" not in node:
                node["allow_inf_nan"] = False
        elif kind == "any":
            inner = {"type": "any"}
            seen.add(id(inner))
            node.clear()
            node.update(
                {
                    "type": "function-after",
                    "function": {"type": "no-info", "function": _finite_only},
                    "schema": inner,
                }
            )
            continue
        pending += [value for key, value in node.items() if key not in _NOT_VALIDATION]


def _finite_only(value: Any) -> Any:
    """``value`` unchanged when no number in it is ``nan`` or infinite (TOML allows both)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"{item} is not a finite number")
        if isinstance(item, dict):
            pending += item.values()
        elif isinstance(item, list):
            pending += item
    return value


def validate_all(config: ConfigFile, redactor: Redactor) -> list[ConfigError]:
    """Every problem in the file, for ``lr-ci config check``.

    Unset environment variables come back as :class:`UnsetVariableError` instead of stopping the
    validation: the machine that checks the file (a laptop, a pre-commit hook) is often not the one
    that runs the check with its credentials.
    """
    errors = list(unknown_tables(config))
    validated: dict[str, Any] = {}
    for name in settings_tables():
        if isinstance(config.tables.get(name, {}), dict):
            validated[name], found = _validate_section(config, name, settings_model(name), redactor, errors)
            errors += found
    unset = [e.key for e in errors if isinstance(e, UnsetVariableError)]
    errors += _cross_table_errors(config, validated, unset)
    return sorted(errors, key=lambda e: (e.line or 0, e.key))


def _cross_table_errors(config: ConfigFile, validated: dict[str, Any], unset: list[str]) -> list[ConfigError]:
    """What each check's registered validation (``CheckSpec.validate``) finds once every table is read:
    the problems its run would refuse (an uptime monitor naming a flow ``[smoke]`` does not define), at
    their keys' lines. A table with errors of its own is not judged again; a problem of the machine or
    the command line rather than of the file comes back as a :class:`RunEnvironmentError` (a warning).

    A value that still holds a ``${NAME}`` whose variable is not set here (``unset``: those warnings'
    keys) is not judged either: ``slack://${TOKEN}/...`` is not an apprise URL until the run sets it,
    and its warning already says so. So a problem at such a key, or above or below it, is left out.
    """
    errors: list[ConfigError] = []
    for name in settings_validators():
        if validated.get(name) is None:
            continue
        for problem in settings_validator(name)(config, validated):
            kind = RunEnvironmentError if isinstance(problem, RunEnvironmentSettingError) else ConfigError
            error = config.error(problem.where, problem.problem, kind)
            if not any(_related(error.key, key) for key in unset):
                errors.append(error)
    return errors


def _related(key: str, other: str) -> bool:
    """``uptime.notify.0`` and ``uptime.notify.0.url`` are; ``uptime.notify.1`` and ``uptime.notify.10``
    are not."""
    return key == other or key.startswith(f"{other}.") or other.startswith(f"{key}.")


def _config_error(config: ConfigFile, table: str, model: type[Any], error: Any) -> ConfigError:
    loc: tuple[str | int, ...] = (table, *error["loc"])
    problem = error["msg"]
    if error["type"] in _UNKNOWN_KEY:
        fields = _fields_at(model, tuple(error["loc"][:-1]))  # type: ignore[arg-type]  # classes hash
        problem = f"unknown key{_did_you_mean(str(loc[-1]), fields)}"
    elif error["type"] in _MISSING_KEY:
        problem = "required key is missing"
    elif isinstance(cause := error.get("ctx", {}).get("error"), FieldError):
        # A settings __post_init__ rejected one field: point at that key, from the exception itself.
        loc, problem = (*loc, cause.field), f"Value error, {cause.problem}"
    return config.error(loc, problem)


@functools.lru_cache(maxsize=1024)
def _fields_at(model: type[Any], loc: tuple[str | int, ...]) -> dict[str, Any]:
    """The keys (as written in TOML) of the settings dataclass at ``loc``, through lists and optionals."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and dataclasses.is_dataclass(current) and isinstance(part, str):
            current = _keys(current).get(part)
        elif typing.get_origin(current) in (list, dict, tuple):
            current = typing.get_args(current)[-1]
    current = _unwrap(current)
    return _keys(current) if isinstance(current, type) and dataclasses.is_dataclass(current) else {}


def _keys(cls: type[Any]) -> dict[str, Any]:
    """TOML key -> annotation: the field name, or its pydantic alias (``finally`` for ``finally_``)."""
    keys = {}
    for name, annotation in typing.get_type_hints(cls, include_extras=True).items():
        metadata = getattr(annotation, "__metadata__", ())
        alias = next((m.alias for m in metadata if getattr(m, "alias", None)), None)
        keys[alias or name] = annotation
    return keys


def _unwrap(annotation: Any) -> Any:
    """``Optional[X]``, ``X | None`` and ``Annotated[X, ...]`` -> ``X``; other annotations unchanged."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the whole ``lr-ci.toml``, for editors (Taplo, VS Code Even Better TOML)."""
    from pydantic import TypeAdapter

    tables = [
        (name, settings_model(name) | None, dataclasses.field(default=None)) for name in settings_tables()
    ]
    root = dataclasses.make_dataclass("LrCiConfig", tables, kw_only=True)
    root.__pydantic_config__ = {"extra": "forbid"}  # type: ignore[attr-defined]
    schema: dict[str, Any] = TypeAdapter(root).json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "lr-ci.toml"
    return schema
