"""Walking a project's working directory for the glob and grep tools: glob patterns as regexes,
and the subset of .gitignore the walk honours.

Owns: `glob_regex` (`*`, `?`, `[...]`, `{a,b}`, `**`), `PathFilter` (include/exclude globs;
one without a `/` matches the file name at any depth, as ripgrep's `-g`), `IgnoreRules`
(one .gitignore file) and `walk`.

Invariants: `walk` never leaves the folder it starts in: it yields regular files only, does
not follow symlinks (to files or folders) and never enters `.git`; a folder a .gitignore rule
ignores is not entered. Pure reads, no state between calls; callers run it in a thread.

The .gitignore subset: every `.gitignore` from the working directory down (not the global
one, not `.git/info/exclude`, not those above the working directory); blank lines and `#`
comments; `!` negation; a trailing `/` for folders only; a leading or middle `/` anchors the
pattern to its file's folder, otherwise it matches a name at any depth; `*`, `?`, `[...]`, `**`.
A deeper file's rules override a shallower one's; within a file the last matching rule wins.
"""

from __future__ import annotations

import operator
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

GIT_DIR = ".git"
IGNORE_FILE = ".gitignore"
_NAME = operator.attrgetter("name")


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> str:
    """A glob as a regex source matching a whole `/`-separated path: `*` and `?` stay within
    one segment, `**/` spans any number of folders (none included), `{a,b}` is either."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**", i):
            after = i + 2
            if after < n and pattern[after] == "/":
                out.append("(?:.*/)?")
                i = after + 1
            elif out and out[-1] == "/" and after == n:  # `dir/**`: anything below dir
                out[-1] = "(?:/.*)?"
                i = after
            else:
                out.append(".*")
                i = after
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1:i + 2] in ("!", "^") else i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:end]
                negate = body[:1] in ("!", "^")
                body = "".join(ch if ch == "-" else re.escape(ch) for ch in body[negate:])
                out.append("[" + ("^" if negate else "") + body + "]")
                i = end
        elif c == "{":
            end = pattern.find("}", i)
            if end < 0 or "{" in pattern[i + 1:end]:
                out.append(re.escape(c))
            else:
                out.append("(?:" + "|".join(glob_regex(part) for part in pattern[i + 1:end].split(",")) + ")")
                i = end
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "/":
            out.append("/")
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


class PathFilter:
    """Include/exclude globs over paths relative to the working directory. A glob with a `/`
    matches the whole path, one without matches the file name (`*.py`, `test_*`)."""

    def __init__(self, include: list[str], exclude: list[str]) -> None:
        self.include = self._compile(include)
        self.exclude = self._compile(exclude)

    @staticmethod
    def _compile(globs: list[str]) -> tuple[re.Pattern | None, re.Pattern | None]:
        names = [glob_regex(g) for g in globs if "/" not in g]
        paths = [glob_regex(g.lstrip("/")) for g in globs if "/" in g]
        return (re.compile("|".join(names)) if names else None,
                re.compile("|".join(paths)) if paths else None)

    @staticmethod
    def _hit(compiled, rel: str, name: str) -> bool:
        by_name, by_path = compiled
        return bool((by_name and by_name.fullmatch(name)) or (by_path and by_path.fullmatch(rel)))

    def wants(self, rel: str, name: str) -> bool:
        if (self.include[0] or self.include[1]) and not self._hit(self.include, rel, name):
            return False
        return not self._hit(self.exclude, rel, name)


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern
    negate: bool
    dir_only: bool
    anchored: bool  # matched against the path below the .gitignore's folder, else the name


class IgnoreRules:
    """The rules of one .gitignore file, for paths below its folder."""

    def __init__(self, lines: list[str]) -> None:
        self.rules: list[_Rule] = []
        for raw in lines:
            line = raw.rstrip("\n").rstrip("\r")
            if line.endswith("\\ "):
                line = line[:-2] + " "
            else:
                line = line.rstrip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            if negate:
                line = line[1:]
            elif line.startswith(("\\!", "\\#")):
                line = line[1:]
            dir_only = line.endswith("/")
            line = line.rstrip("/")
            if not line:
                continue
            anchored = "/" in line
            try:
                regex = re.compile(glob_regex(line.lstrip("/")), re.S)
            except re.error:
                continue  # a pattern git would read differently: ignored rather than guessed
            self.rules.append(_Rule(regex, negate, dir_only, anchored))
        self.simple = not any(r.negate for r in self.rules)
        if self.simple:  # no negation: one combined regex per kind is enough (the common case)
            self._combined = {kind: self._combine(kind) for kind in (False, True)}

    def _combine(self, is_dir: bool) -> tuple[re.Pattern | None, re.Pattern | None]:
        rules = [r for r in self.rules if is_dir or not r.dir_only]
        names = [r.regex.pattern for r in rules if not r.anchored]
        paths = [r.regex.pattern for r in rules if r.anchored]
        return (re.compile("|".join(names), re.S) if names else None,
                re.compile("|".join(paths), re.S) if paths else None)

    def decide(self, rel: str, name: str, is_dir: bool) -> bool | None:
        """True: ignored, False: re-included by a `!` rule, None: no rule matches."""
        if self.simple:
            by_name, by_path = self._combined[is_dir]
            if (by_name and by_name.fullmatch(name)) or (by_path and by_path.fullmatch(rel)):
                return True
            return None
        for rule in reversed(self.rules):
            if rule.dir_only and not is_dir:
                continue
            if rule.regex.fullmatch(rel if rule.anchored else name):
                return not rule.negate
        return None


def _read_rules(folder: str) -> IgnoreRules | None:
    try:
        with open(os.path.join(folder, IGNORE_FILE), encoding="utf-8", errors="replace") as f:
            rules = IgnoreRules(f.readlines())
    except OSError:
        return None
    return rules if rules.rules else None


def _ignored(stack: list[tuple[str, IgnoreRules]], rel: str, name: str, is_dir: bool) -> bool:
    for prefix, rules in reversed(stack):  # the deepest file decides first
        decision = rules.decide(rel[len(prefix):], name, is_dir)
        if decision is not None:
            return decision
    return False


def walk(root: str, start: str = "", *, gitignore: bool = True,
         skip: frozenset[str] = frozenset()) -> Iterator[tuple[str, str]]:
    """(path relative to root with `/`, absolute path) of every regular file under
    root/start, in name order; `start` is a folder relative to root ("" for root itself).
    Folders whose absolute path (root joined with the relative path) is in `skip` are not entered."""
    stack: list[tuple[str, IgnoreRules]] = []
    if gitignore:  # the .gitignore files of the folders from root down to start apply too
        parts = [p for p in start.split("/") if p]
        for depth in range(len(parts) + 1):
            rel_dir = "/".join(parts[:depth])
            rules = _read_rules(os.path.join(root, rel_dir) if rel_dir else root)
            if rules:
                stack.append((rel_dir + "/" if rel_dir else "", rules))
    yield from _walk(root, start, stack, gitignore, skip)


def _walk(root: str, rel_dir: str, stack: list, gitignore: bool,
          skip: frozenset[str]) -> Iterator[tuple[str, str]]:
    folder = os.path.join(root, rel_dir) if rel_dir else root
    try:
        with os.scandir(folder) as it:
            entries = list(it)
    except OSError:
        return
    entries.sort(key=_NAME)
    prefix = rel_dir + "/" if rel_dir else ""
    for entry in entries:
        name = entry.name
        if name == GIT_DIR:
            continue
        try:
            if entry.is_symlink():
                continue
            is_dir = entry.is_dir(follow_symlinks=False)
            if not is_dir and not entry.is_file(follow_symlinks=False):
                continue  # sockets, fifos, devices
        except OSError:
            continue
        rel = prefix + name
        if stack and _ignored(stack, rel, name, is_dir):
            continue
        if is_dir:
            if entry.path in skip:
                continue
            rules = _read_rules(entry.path) if gitignore else None
            if rules:
                stack.append((rel + "/", rules))
            yield from _walk(root, rel, stack, gitignore, skip)
            if rules:
                stack.pop()
        else:
            yield rel, entry.path
