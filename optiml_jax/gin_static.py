"""Reads gin files without importing the modules they name.

t5x run files import `t5x`, which is not installed where our tools and CI run, and a t5x
MODEL_DIR's `config.gin` (t5x's operative config) names t5x's modules too. This reader uses gin's
own parser but never imports or calls anything: it records every binding (later ones override
earlier ones, as in gin), follows `include`s, and resolves `%MACRO`s on lookup. Configurable
references stay `Reference`s. Selectors match by dotted suffix, as gin matches them, so
`get_config.name` finds `configs.get_config.name` whatever alias imported the module.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Callable, Iterable, Sequence

from etils import epath
from gin import config_parser


@dataclasses.dataclass(frozen=True)
class Reference:
    """`@name()` (evaluate=True) or `@name` in a gin value."""

    name: str
    evaluate: bool


@dataclasses.dataclass(frozen=True)
class Macro:
    """`%NAME` in a gin value, before resolution."""

    name: str


class _Delegate(config_parser.ParserDelegate):
    def configurable_reference(self, scoped_configurable_name, evaluate):
        return Reference(scoped_configurable_name, evaluate)

    def macro(self, macro_name):
        return Macro(macro_name)


def matches(selector: str, suffix: str) -> bool:
    """gin's selector matching: `configs.get_config` matches `get_config`."""
    return selector == suffix or selector.endswith("." + suffix)


class StaticGinConfig:
    """The bindings of some gin files; `value` looks one up with its macros resolved."""

    def __init__(self):
        # (scope, selector, arg) → value; a macro `NAME = v` is ('', 'NAME', '').
        self.bindings: dict[tuple[str, str, str], Any] = {}
        self.imports: dict[str, str] = {}  # the name a file uses → the module it imported
        self.included: list[str] = []          # includes read, as the files name them
        self.skipped_includes: list[str] = []

    def parse(self, text: str, filename: str, search_paths: Sequence[epath.Path],
              skip_includes: Sequence[str] = ()) -> None:
        """Adds the bindings of `text`; includes whose path starts with one of `skip_includes`
        are recorded in `skipped_includes` and not read (e.g. t5x's own run files)."""
        for statement in config_parser.ConfigParser(text, _Delegate()):
            if isinstance(statement, config_parser.IncludeStatement):
                if statement.filename.startswith(tuple(skip_includes)):
                    self.skipped_includes.append(statement.filename)
                    continue
                path = _find(statement.filename, search_paths, where=filename)
                self.included.append(statement.filename)
                self.parse(path.read_text(), str(path), search_paths, skip_includes)
            elif isinstance(statement, config_parser.ImportStatement):
                module = statement.module
                if statement.is_from or statement.alias:
                    self.imports[statement.alias or module.rsplit(".", 1)[-1]] = module
                else:  # `import a.b` names the module a.b
                    self.imports[module] = module
            elif isinstance(statement, config_parser.BindingStatement):
                key = (statement.scope or "", statement.selector, statement.arg_name)
                self.bindings[key] = statement.value

    def value(self, selector: str, arg: str, scope: str = "") -> Any:
        """The value bound to `selector.arg` (selector by dotted suffix), macros resolved.

        A binding in `scope` wins over an unscoped one, as gin applies them. Raises KeyError
        naming the binding when nothing (or something ambiguous) is bound.
        """
        for wanted_scope in dict.fromkeys((scope, "")):
            found = {key: v for key, v in self.bindings.items()
                     if key[0] == wanted_scope and key[2] == arg and matches(key[1], selector)}
            if len(found) > 1:
                raise KeyError(f"{selector}.{arg} is ambiguous: {sorted(k[1] for k in found)}.")
            if found:
                return self.resolve(next(iter(found.values())))
        raise KeyError(f"nothing binds {f'{scope}/' if scope else ''}{selector}.{arg}.")

    def macro(self, name: str) -> Any:
        if ("", name, "") not in self.bindings:
            raise KeyError(f"macro {name} is not defined.")
        return self.resolve(self.bindings[("", name, "")])

    def function(self, reference: Reference) -> Callable:
        """Imports what an unevaluated `@module.name` reference names (for our own modules: the
        t5x ones are not importable where this reader is meant to run)."""
        alias, _, name = reference.name.rpartition(".")
        if alias not in self.imports:
            raise KeyError(f"@{reference.name}: no import provides {alias!r}.")
        return getattr(importlib.import_module(self.imports[alias]), name)

    def resolve(self, value: Any) -> Any:
        """`value` with every `Macro` replaced by its definition, recursively."""
        if isinstance(value, Macro):
            if value.name == "gin.REQUIRED":
                raise KeyError("a value is %gin.REQUIRED and was never set.")
            return self.macro(value.name)
        if isinstance(value, (list, tuple)):
            return type(value)(self.resolve(v) for v in value)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        return value


def _find(filename: str, search_paths: Iterable[epath.Path], where: str) -> epath.Path:
    for directory in search_paths:
        candidate = epath.Path(directory) / filename
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{where}: include {filename!r} not found under "
                            f"{[str(p) for p in search_paths]}.")


def parse_files(files: Sequence[str | epath.PathLike], search_paths: Sequence[str | epath.PathLike],
                skip_includes: Sequence[str] = ()) -> StaticGinConfig:
    """The bindings of `files` in order (later files override earlier ones)."""
    paths = [epath.Path(p) for p in search_paths]
    config = StaticGinConfig()
    for name in files:
        path = epath.Path(name)
        path = path if path.exists() else _find(str(name), paths, where="--gin_file")
        config.parse(path.read_text(), str(path), paths, skip_includes)
    return config
