"""A small reader for Asterisk's configuration syntax, and a model of an extensions.conf dialplan.

It follows ``main/config.c`` closely enough to check our own files in tests (no I/O besides
reading the files named; nothing is evaluated):

* ``;`` starts a comment unless escaped as ``\\;``; ``;--`` ... ``--;`` is a block comment
  and may nest.
* ``[name]`` opens a category; ``[name](!)`` is a template; ``[name](tpl1,tpl2)`` first copies
  the variables of earlier categories ``tpl1``, ``tpl2``; ``[name](+)`` appends to an existing
  category. Several categories may share a name (pjsip.conf ``[1001]`` endpoint and aor).
* ``key = value``, ``key => value`` (an "object" line) and ``key += value`` (append to the
  previous value of key).
* ``#include file`` and ``#tryinclude file`` (quotes or ``<>`` stripped, paths relative to the
  configuration directory). The included text continues the current category. A missing
  ``#include`` makes the whole file invalid in Asterisk; here it raises :class:`ConfError`.
  ``resolve`` lets tests read ``site/x.conf.sample`` in place of a ``site/x.conf`` not in git.

Dialplan lines are ``exten => EXTEN,PRIORITY,App(args)`` and ``same => PRIORITY,App(args)``,
where PRIORITY is a number, ``n``, or either followed by ``(label)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path


class ConfError(ValueError):
    """The file is not valid Asterisk configuration (message names file and line)."""


@dataclass
class Variable:
    """One ``key = value`` line."""

    name: str
    value: str
    is_object: bool
    file: str
    lineno: int


@dataclass
class Category:
    """One ``[section]`` with its variables in order (inherited ones first)."""

    name: str
    is_template: bool = False
    templates: tuple[str, ...] = ()
    variables: list[Variable] = field(default_factory=list)
    file: str = ""
    lineno: int = 0

    def get(self, key: str, default: str | None = None) -> str | None:
        """The last value of ``key`` (Asterisk's usual rule), or ``default``."""
        values = self.getall(key)
        return values[-1] if values else default

    def getall(self, key: str) -> list[str]:
        """Every value of ``key``, in order."""
        return [v.value for v in self.variables if v.name.lower() == key.lower()]


@dataclass
class Config:
    """A parsed file with its includes expanded."""

    path: Path
    categories: list[Category]
    included: list[Path]

    def sections(self, name: str) -> list[Category]:
        """Every non-template category called ``name``."""
        return [c for c in self.categories if c.name == name and not c.is_template]

    def section(self, name: str) -> Category:
        """The single non-template category ``name``; KeyError if none or several."""
        found = self.sections(name)
        if len(found) != 1:
            raise KeyError(f"{len(found)} sections named [{name}] in {self.path.name}")
        return found[0]

    def by_type(self, type_name: str) -> list[Category]:
        """Non-template categories whose ``type`` is ``type_name`` (pjsip.conf)."""
        return [c for c in self.categories if not c.is_template and c.get("type") == type_name]


Resolver = Callable[[Path], Path | None]

_HEADER = re.compile(r"^\[(?P<name>[^\]]+)\](?:\((?P<opts>[^)]*)\))?$")


def _strip_comments(line: str, depth: int) -> tuple[str, int]:
    """Remove comments from one raw line; return the kept text and the new block depth."""
    out: list[str] = []
    i = 0
    while i < len(line):
        if line.startswith(";--", i) and not line.startswith(";---", i):
            depth += 1
            i += 3
        elif depth and line.startswith("--;", i):
            depth -= 1
            i += 3
        elif depth:
            i += 1
        elif line[i] == "\\" and line.startswith(";", i + 1):
            out.append(";")
            i += 2
        elif line[i] == ";":
            break
        else:
            out.append(line[i])
            i += 1
    return "".join(out), depth


def _default_resolver(path: Path) -> Path | None:
    return path if path.is_file() else None


def sample_resolver(path: Path) -> Path | None:
    """Resolve an include to the file, or to ``<file>.sample`` when the file is absent."""
    if path.is_file():
        return path
    sample = path.with_name(path.name + ".sample")
    return sample if sample.is_file() else None


def parse_config(
    path: str | Path, *, base_dir: str | Path | None = None, resolve: Resolver | None = None
) -> Config:
    """Parse ``path`` (and its includes, relative to ``base_dir``, default its directory)."""
    path = Path(path)
    base = Path(base_dir) if base_dir is not None else path.parent
    config = Config(path, [], [])
    state: dict[str, Category | None] = {"cat": None}
    _parse_file(path, base, resolve or _default_resolver, config, state, depth=0)
    return config


def _parse_file(
    path: Path,
    base: Path,
    resolve: Resolver,
    config: Config,
    state: dict[str, Category | None],
    depth: int,
) -> None:
    if depth > 10:
        raise ConfError(f"{path}: #include nested too deep")
    comment_depth = 0
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text, comment_depth = _strip_comments(raw, comment_depth)
        text = text.strip()
        if not text:
            continue
        where = f"{path.name}:{lineno}"
        if text.startswith("#"):
            _directive(text, where, base, resolve, config, state, depth)
        elif text.startswith("["):
            state["cat"] = _header(text, where, config, path.name, lineno)
        else:
            cat = state["cat"]
            if cat is None:
                raise ConfError(f"{where}: no category before {text!r}")
            _assign(cat, text, where, path.name, lineno)
    if comment_depth:
        raise ConfError(f"{path.name}: unterminated ;-- block comment")


def _directive(
    text: str,
    where: str,
    base: Path,
    resolve: Resolver,
    config: Config,
    state: dict[str, Category | None],
    depth: int,
) -> None:
    word, _, arg = text[1:].partition(" ")
    arg = arg.strip()
    if word not in ("include", "tryinclude"):
        raise ConfError(f"{where}: unsupported directive #{word}")
    if len(arg) >= 2 and (arg[0], arg[-1]) in (('"', '"'), ("<", ">")):
        arg = arg[1:-1]
    if not arg:
        raise ConfError(f"{where}: #{word} needs a file name")
    wanted = Path(arg) if arg.startswith("/") else base / arg
    found = resolve(wanted)
    if found is None:
        if word == "tryinclude":
            return
        raise ConfError(f"{where}: #include of missing file {arg}")
    config.included.append(found)
    _parse_file(found, base, resolve, config, state, depth + 1)


def _header(text: str, where: str, config: Config, file: str, lineno: int) -> Category:
    match = _HEADER.match(text)
    if not match:
        raise ConfError(f"{where}: bad category header {text!r}")
    name = match["name"].strip()
    opts = [o.strip() for o in (match["opts"] or "").split(",") if o.strip()]
    if "+" in opts:
        existing = [c for c in config.categories if c.name == name]
        if not existing:
            raise ConfError(f"{where}: category addition requested, but [{name}] does not exist")
        return existing[0]
    cat = Category(name, is_template="!" in opts, file=file, lineno=lineno)
    bases = tuple(o for o in opts if o != "!")
    for base_name in bases:
        found = [c for c in config.categories if c.name == base_name]
        if not found:
            raise ConfError(f"{where}: inheritance requested, but [{base_name}] does not exist")
        cat.variables.extend(Variable(**vars(v)) for v in found[0].variables)
    cat.templates = bases
    config.categories.append(cat)
    return cat


def _assign(cat: Category, text: str, where: str, file: str, lineno: int) -> None:
    if "=" not in text:
        raise ConfError(f"{where}: no '=' in {text!r}")
    name, _, value = text.partition("=")
    is_object = value.startswith(">")
    if is_object:
        value = value[1:]
    name, value = name.strip(), value.strip()
    if name.endswith("+"):
        name = name[:-1].strip()
        for var in reversed(cat.variables):
            if var.name == name:
                var.value += value
                return
    if not name:
        raise ConfError(f"{where}: no variable name")
    cat.variables.append(Variable(name, value, is_object, file, lineno))


# -- Dialplan ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One priority of one extension."""

    context: str
    exten: str
    priority: int
    label: str | None
    app: str
    args: str
    file: str
    lineno: int


@dataclass
class Dialplan:
    """Contexts -> extensions -> steps in priority order, plus the [globals] variables."""

    contexts: dict[str, dict[str, list[Step]]]
    globals: dict[str, str]

    def steps(self) -> Iterator[Step]:
        """Every step of every context."""
        for extens in self.contexts.values():
            for steps in extens.values():
                yield from steps

    def find_exten(self, context: str, exten: str) -> str | None:
        """The extension of ``context`` that a dialled ``exten`` reaches (exact before pattern)."""
        extens = self.contexts.get(context, {})
        if exten in extens:
            return exten
        for name in extens:
            if name.startswith("_") and match_pattern(name, exten):
                return name
        return None


_PRIORITY = re.compile(r"^(?P<prio>\d+|n)(?:\((?P<label>[A-Za-z0-9_-]+)\))?$")
_APP = re.compile(r"^(?P<app>[A-Za-z][A-Za-z0-9_]*)\s*(?:\((?P<args>.*)\))?$", re.S)


def match_pattern(pattern: str, exten: str) -> bool:
    """Asterisk extension pattern matching (``_`` prefix; X Z N [..] . !)."""
    regex = []
    i, body = 0, pattern[1:]
    while i < len(body):
        ch = body[i]
        upper = ch.upper()
        if upper == "X":
            regex.append("[0-9]")
        elif upper == "Z":
            regex.append("[1-9]")
        elif upper == "N":
            regex.append("[2-9]")
        elif ch == ".":
            regex.append(".+")
        elif ch == "!":
            regex.append(".*")
        elif ch == "[":
            end = body.index("]", i)
            regex.append("[" + body[i + 1 : end] + "]")
            i = end
        else:
            regex.append(re.escape(ch))
        i += 1
    return re.fullmatch("".join(regex), exten) is not None


def parse_dialplan(config: Config) -> Dialplan:
    """Build the dialplan of an extensions.conf :class:`Config`; ConfError on a bad line."""
    contexts: dict[str, dict[str, list[Step]]] = {}
    global_vars: dict[str, str] = {}
    for cat in config.categories:
        if cat.name == "general" or cat.is_template:
            continue
        if cat.name == "globals":
            for var in cat.variables:
                global_vars[var.name] = var.value
            continue
        extens = contexts.setdefault(cat.name, {})
        current: str | None = None
        for var in cat.variables:
            where = f"{var.file}:{var.lineno}"
            if var.name == "exten":
                current, sep, rest = var.value.partition(",")
                current = current.strip()
                if not sep or not current:
                    raise ConfError(f"{where}: bad exten line")
            elif var.name == "same":
                if current is None:
                    raise ConfError(f"{where}: 'same =>' before any 'exten =>'")
                rest = var.value
            elif var.name in ("include", "switch", "ignorepat"):
                continue
            else:
                raise ConfError(f"{where}: unexpected {var.name!r} in [{cat.name}]")
            prio_text, sep, app_text = rest.partition(",")
            match = _PRIORITY.match(prio_text.strip())
            if not sep or not match:
                raise ConfError(f"{where}: bad priority {prio_text!r}")
            steps = extens.setdefault(current, [])
            if match["prio"] == "n":
                if not steps:
                    raise ConfError(f"{where}: priority 'n' as the first priority of {current}")
                priority = steps[-1].priority + 1
            else:
                priority = int(match["prio"])
            app = _APP.match(app_text.strip())
            if not app:
                raise ConfError(f"{where}: bad application {app_text!r}")
            steps.append(
                Step(
                    cat.name,
                    current,
                    priority,
                    match["label"],
                    app["app"],
                    app["args"] or "",
                    var.file,
                    var.lineno,
                )
            )
    return Dialplan(contexts, global_vars)


def split_args(args: str, sep: str = ",") -> list[str]:
    """Split application arguments on ``sep`` outside ``${...}``, ``$[...]`` and parentheses."""
    parts, depth, cur = [], 0, []
    for ch in args:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts
