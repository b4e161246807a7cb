"""The package layout rules a reviewer would otherwise have to check by eye."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "stagent"
SQL_HOMES = ("store", "db")

# A statement keyword followed by what makes it SQL, so the HTTP method "DELETE" of a route
# table or a sentence that starts with "Update" does not count.
SQL = re.compile(
    r"""^\s*(
        SELECT\s+\S.*\b(FROM|AS)\b
      | SELECT\s+(\d|COUNT|COALESCE|EXISTS|MAX|MIN|SUM)\b
      | INSERT\s+(OR\s+\w+\s+)?INTO\s
      | REPLACE\s+INTO\s
      | UPDATE\s+\w+\s+SET\s
      | DELETE\s+FROM\s
      | WITH\s+(RECURSIVE\s+)?\w+(\s*\([^)]*\))?\s+AS\b
      | PRAGMA\s+\w
    )""",
    re.VERBOSE | re.DOTALL,
)


def _strings(tree: ast.AST):
    """(line, text) of every string literal; an f-string's literal parts are joined around
    a `{}` per interpolation, so f"SELECT {cols} FROM t" is seen whole."""
    inside_fstring: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                inside_fstring.add(id(value))
                parts.append(value.value if isinstance(value, ast.Constant) else "{}")
            yield node.lineno, "".join(str(p) for p in parts)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in inside_fstring:
            yield node.lineno, node.value


def test_no_sql_outside_store():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in SQL_HOMES:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, text in _strings(tree):
            if SQL.match(text):
                offenders.append(f"stagent/{relative}:{line}: {text.strip()[:60]!r}")
    offenders.sort(key=lambda o: (o.split(":")[0], int(o.split(":")[1])))
    assert not offenders, "SQL belongs in stagent/store/ or stagent/db/:\n" + "\n".join(offenders)


# ---- import layering ---------------------------------------------------------------------------

LAYER_RULES = (  # (importer prefix, what it must not import, why)
    ("stagent.store", ("stagent.engine", "stagent.api"), "store/ holds SQL only"),
    ("stagent.engine", ("stagent.api",), "engine/ knows nothing of HTTP"),
    ("stagent.db", ("stagent.store", "stagent.engine", "stagent.api"), "db/ is below everything"),
)
CLI_ALLOWED = ("stagent.config", "stagent.cli")  # the other commands talk to the daemon over HTTP
CLI_SERVE_ALLOWED = (*CLI_ALLOWED, "stagent.app")


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _modules() -> dict[str, Path]:
    """Every module under stagent/ by its dotted name (a package by its own name)."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("stagent", *path.relative_to(PACKAGE).with_suffix("").parts)
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(node: ast.AST, top_level: bool = True):
    """(import statement, whether it runs when the module is imported): not inside a function
    nor under `if TYPE_CHECKING:`."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node, top_level
        return
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        top_level = False
    if isinstance(node, ast.If) and _is_type_checking(node.test):
        for statement in node.body:
            yield from _import_nodes(statement, False)
        for statement in node.orelse:
            yield from _import_nodes(statement, top_level)
        return
    for child in ast.iter_child_nodes(node):
        yield from _import_nodes(child, top_level)


def _imports(name: str, path: Path, modules: dict[str, Path]):
    """(imported stagent module, line, top_level) for each import of one module, relative imports
    resolved; `from package import name` counts as importing package.name when that is a module.
    The module's own packages are left out: Python imports them before the module anyway."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node, top_level in _import_nodes(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in modules else module
                       for alias in node.names]
        for target in dict.fromkeys(targets):
            if _within(target, ("stagent",)) and target not in ancestors:
                yield target, node.lineno, top_level


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_import_layering():
    modules = _modules()
    offenders = []
    graph: dict[str, set[str]] = {}
    lines: dict[tuple[str, str], int] = {}
    for name, path in modules.items():
        where = f"stagent/{path.relative_to(PACKAGE)}"
        for target, line, top_level in _imports(name, path, modules):
            for importer, forbidden, why in LAYER_RULES:
                if _within(name, (importer,)) and _within(target, forbidden):
                    offenders.append(f"{where}:{line}: {name} -> {target} ({why})")
            if _within(name, ("stagent.cli",)):
                allowed = CLI_SERVE_ALLOWED if name == "stagent.cli.serve" else CLI_ALLOWED
                if not _within(target, allowed):
                    offenders.append(f"{where}:{line}: {name} -> {target} (the CLI imports only "
                                     f"{', '.join(allowed)})")
            if top_level and target in modules:
                graph.setdefault(name, set()).add(target)
                lines.setdefault((name, target), line)
    for component in _cycles(graph):
        members = set(component)
        edges = [f"{a} -> {b} (line {lines[a, b]})" for a in component for b in sorted(graph[a] & members)]
        offenders.append("import cycle: " + "; ".join(edges))
    assert not offenders, "import layering broken:\n" + "\n".join(offenders)
