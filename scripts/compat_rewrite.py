"""Rewrites the old package's test files to import this package instead.

`from langchain_callback_parquet_logger[.sub] import X` becomes an import of our public `X`
(or of its counterpart named in NAME_MAP); a name we have no counterpart for becomes a stand-in
that fails the test touching it, so one unmapped name never hides a whole file. Dotted module
paths in strings (`patch("...batch.ParquetLogger")`, `sys.modules[...]`) follow MODULE_MAP.
"""

from __future__ import annotations

import ast
import importlib
import re
from dataclasses import dataclass, field

OLD = "langchain_callback_parquet_logger"
SHIM_MODULE = "_compat_unmapped"

# Old module -> the module of ours that plays its part (for patch targets and sys.modules).
MODULE_MAP = {
    OLD: "parquet_logger",
    f"{OLD}.batch": "parquet_logger.batch.job",
    f"{OLD}.background_retrieval": "parquet_logger.retrieval.api",
    f"{OLD}.config": "parquet_logger.batch.compat_config",
    f"{OLD}.tagging": "parquet_logger.capture.tagging",
    f"{OLD}.logger": "parquet_logger.capture.handler",
}
# Every sub-module the old package had; one missing from MODULE_MAP has no counterpart.
OLD_SUBMODULES = ("background_retrieval", "batch", "config", "logger", "storage", "tagging")
# Old (module, name) -> our "module:name", where our public name differs.
NAME_MAP = {
    (f"{OLD}.tagging", "extract_custom_id"): "parquet_logger.capture.tagging:custom_id_from_tags",
}
# A dotted path under an old module with no counterpart; patching it fails with this name.
UNMAPPED_MODULE = f"parquet_logger.{SHIM_MODULE}"

SHIM_SOURCE = '''"""Stand-ins for old names we have no counterpart for (by scripts/compat.py)."""


class Unmapped:
    """Fails whichever test uses it, naming the old symbol."""

    def __init__(self, name: str) -> None:
        self._name = name

    def _fail(self, *args: object, **kwargs: object) -> None:
        raise NotImplementedError(f"compat: {self._name} has no counterpart in parquet_logger")

    __call__ = _fail

    def __getattr__(self, attr: str) -> object:
        self._fail()
        return None
'''


@dataclass
class Rewrite:
    """The rewritten source of one file and the old names it could not map."""

    source: str
    unmapped: list[str] = field(default_factory=list)
    mapped: dict[str, str] = field(default_factory=dict)


def resolve(module: str, name: str) -> str | None:
    """Our `module:name` for an old import, or None when we have no counterpart."""
    target = NAME_MAP.get((module, name))
    candidates = [target] if target else [f"parquet_logger:{name}"]
    if module in MODULE_MAP and not target:
        candidates.append(f"{MODULE_MAP[module]}:{name}")
    for candidate in candidates:
        mod_name, attr = candidate.split(":")
        try:
            mod = importlib.import_module(mod_name)
        except ImportError:
            continue
        if hasattr(mod, attr) and (mod_name == "parquet_logger" or not attr.startswith("_")):
            return candidate
    return None


def rewrite_source(source: str) -> Rewrite:
    """The file with every old import and dotted string rewritten."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    result = Rewrite(source="")
    edits: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == OLD:
            indent = re.match(r"\s*", lines[node.lineno - 1]).group(0)  # type: ignore[union-attr]
            text = _import_from(node, indent, result)
            edits.append((node.lineno, node.end_lineno or node.lineno, text))
        elif isinstance(node, ast.Import) and any(a.name.split(".")[0] == OLD for a in node.names):
            indent = re.match(r"\s*", lines[node.lineno - 1]).group(0)  # type: ignore[union-attr]
            text = _plain_import(node, indent, result)
            edits.append((node.lineno, node.end_lineno or node.lineno, text))
    for first, last, text in sorted(edits, reverse=True):
        lines[first - 1 : last] = [text]
    result.source = _rewrite_strings("".join(lines))
    return result


def _import_from(node: ast.ImportFrom, indent: str, result: Rewrite) -> str:
    """One import line per name: ours, or a stand-in that fails when used."""
    module = node.module or OLD
    out: list[str] = []
    for alias in node.names:
        local = alias.asname or alias.name
        target = resolve(module, alias.name)
        old_name = f"{module}.{alias.name}"
        if target is None:
            result.unmapped.append(old_name)
            out.append(f"{indent}from {SHIM_MODULE} import Unmapped as _Unmapped\n")
            out.append(f"{indent}{local} = _Unmapped({old_name!r})\n")
        else:
            mod_name, attr = target.split(":")
            result.mapped[old_name] = target
            suffix = f" as {local}" if local != attr else ""
            out.append(f"{indent}from {mod_name} import {attr}{suffix}\n")
    return "".join(out)


def _plain_import(node: ast.Import, indent: str, result: Rewrite) -> str:
    """`import old [as x]` -> `import parquet_logger as x`; an old sub-module is unmapped."""
    out: list[str] = []
    for alias in node.names:
        bound = alias.asname or alias.name.split(".")[0]
        if alias.name == OLD:
            out.append(f"{indent}import parquet_logger as {bound}\n")
        elif alias.name.split(".")[0] == OLD:
            result.unmapped.append(alias.name)
            out.append(f"{indent}import {UNMAPPED_MODULE} as {bound}\n")
        else:
            out.append(
                f"{indent}import {alias.name}"
                + (f" as {alias.asname}" if alias.asname else "")
                + "\n"
            )
    return "".join(out)


_DOTTED = re.compile(rf"""(?P<q>['"])(?P<path>{OLD}(?:\.\w+)*)(?P=q)""")


def map_dotted(path: str) -> str:
    """A dotted old path -> ours: the longest old module prefix we map, then the rest as is."""
    parts = path.split(".")
    if len(parts) > 1 and parts[1] in OLD_SUBMODULES and ".".join(parts[:2]) not in MODULE_MAP:
        return ".".join([UNMAPPED_MODULE, *parts[1:]])
    for cut in range(len(parts), 0, -1):
        ours = MODULE_MAP.get(".".join(parts[:cut]))
        if ours is not None:
            return ".".join([ours, *parts[cut:]])
    return ".".join([UNMAPPED_MODULE, *parts[1:]])


def _rewrite_strings(source: str) -> str:
    """Quoted dotted paths (patch targets, sys.modules keys) rewritten by `map_dotted`."""
    return _DOTTED.sub(lambda m: f"{m['q']}{map_dotted(m['path'])}{m['q']}", source)
