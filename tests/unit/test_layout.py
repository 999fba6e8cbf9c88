"""The rules of the tree (docs/architecture.md), checked: rooms by role, small modules.

- At most 15 modules at the top of oilnews/. Each is either loaded by Scrapy by name (a dotted
  path in settings.py, or the settings module itself) or imports no Crawler: the components
  that a crawler builds live in their role's package (extensions/, middlewares/, pipelines/,
  spiders/), so a pure helper never drags a crawl in.
- No module over 300 lines outside replica/ and storage/migrations/; no spider module over 250.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from oilnews import settings

PACKAGE = Path(settings.__file__).resolve().parent
TOP = sorted(PACKAGE.glob("*.py"))
EXEMPT_FROM_SIZE = (PACKAGE / "replica", PACKAGE / "storage" / "migrations")
MAX_LINES, MAX_SPIDER_LINES, MAX_TOP_MODULES = 300, 250, 15


def loaded_by_name() -> set[str]:
    """Top-level modules Scrapy imports from a dotted path in the settings."""
    found = {"settings"}

    def visit(value: object) -> None:
        if isinstance(value, str) and value.startswith("oilnews."):
            found.add(value.split(".")[1])
        elif isinstance(value, dict | list | tuple):  # a dict's keys are the paths
            for item in value:
                visit(item)

    for name in dir(settings):
        if name.isupper():
            visit(getattr(settings, name))
    return found


def imports_crawler(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == "scrapy.crawler":
            return True
        if isinstance(node, ast.Import) and any(a.name == "scrapy.crawler" for a in node.names):
            return True
    return False


def test_at_most_fifteen_modules_at_the_top() -> None:
    assert len(TOP) <= MAX_TOP_MODULES, [p.name for p in TOP]


@pytest.mark.parametrize("path", TOP, ids=lambda p: p.name)
def test_a_top_level_module_is_loaded_by_scrapy_or_imports_no_crawler(path: Path) -> None:
    if path.stem in loaded_by_name():
        return
    assert not imports_crawler(path), f"{path.name} imports scrapy.crawler: move it into its role's package"


def test_the_rule_sees_what_scrapy_loads() -> None:
    assert {"settings", "addons", "seen"} <= loaded_by_name()
    assert imports_crawler(PACKAGE / "extensions" / "health.py")


def test_modules_stay_small() -> None:
    too_long = {}
    for path in PACKAGE.rglob("*.py"):
        if any(parent in path.parents for parent in EXEMPT_FROM_SIZE):
            continue
        limit = MAX_SPIDER_LINES if path.parent.name == "spiders" else MAX_LINES
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > limit:
            too_long[str(path.relative_to(PACKAGE))] = lines
    assert not too_long, f"split these (at most {MAX_LINES} lines, spiders {MAX_SPIDER_LINES}): {too_long}"


def test_every_option_of_every_command_says_its_default() -> None:
    """`oilnews CMD --help` names each option's default (a flag's is off: it needs none)."""
    import argparse

    from oilnews.cli import build_parser

    silent = []

    def walk(parser: argparse.ArgumentParser, command: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{command} {name}".strip())
            elif action.option_strings and action.nargs != 0:
                text = action.help or ""
                if "default" not in text and "required" not in text:
                    silent.append(f"{command} {'/'.join(action.option_strings)}")

    walk(build_parser(None), "")
    assert not silent, silent
