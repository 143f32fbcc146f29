"""The user documentation in docs/ stays true: its examples run as written, and it covers
every CLI command and option, every error class, and links only to what exists.

Conventions the pages follow (and this file enforces):

- ```python blocks of one page run in order in one fresh interpreter, sharing names, with
  a new empty directory as the working directory and ``LOOPML_HOME`` inside it.
- ```console blocks hold ``$ loopml ...`` lines (other lines are output and are not run).
  They run after the page's python blocks, in the same directory, so they see its runs.
  Each must exit 0, unless the block follows ``<!-- fails: N -->``: then every command of
  it must exit N with a one-line ``error: ...`` on stderr.
- ``<run id>`` and ``<other run id>`` in a command stand for the newest and second-newest
  run of the page's store; no other placeholder is allowed, so every line shown is run.
- Shell snippets that need outside services (S3, PostgreSQL) go in ```bash blocks, which
  are not run.
"""

from __future__ import annotations

import inspect
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from loopml import errors

from .helpers import loopml_cli, run_python

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
EXPECTED_PAGES = {
    "index.md",
    "tracking.md",
    "data.md",
    "pipelines.md",
    "search.md",
    "storage.md",
    "configuration.md",
    "audit.md",
    "cli.md",
    "errors.md",
    "models.md",
    "serving.md",
    "monitoring.md",
    "server.md",
    "ui.md",
}

_FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_FAILS = re.compile(r"<!--\s*fails:\s*(\d+)\s*-->\s*$")
_PLACEHOLDER = re.compile(r"<[a-z][a-z ]*>")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_FAILED_MARK = "DOCS-BLOCK-FAILED"


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    number: int
    """1-based position among the page's blocks of the same language."""
    line: int
    """Line of the opening fence in the page."""
    expected_exit: int = 0


def _blocks(page: Path, lang: str) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        if match.group(1) != lang:
            continue
        before = text[: match.start()].rstrip()
        fails = _FAILS.search(before)
        found.append(
            Block(
                lang=lang,
                code=match.group(2),
                number=len(found) + 1,
                line=text.count("\n", 0, match.start()) + 1,
                expected_exit=int(fails.group(1)) if fails else 0,
            )
        )
    return found


# The driver runs each block in one namespace and names the block that raised.
_DRIVER = """
import json, sys, traceback
blocks = json.loads({blocks!r})
namespace = {{"__name__": "__main__"}}
for number, (line, code) in enumerate(blocks, 1):
    try:
        exec(compile(code, f"<{page} python block {{number}}, line {{line}}>", "exec"), namespace)
    except BaseException:
        traceback.print_exc()
        print(f"{mark} {{number}} {{line}}", file=sys.stderr)
        sys.exit(1)
"""


def _run_python_blocks(page: Path, project: Path) -> None:
    blocks = _blocks(page, "python")
    if not blocks:
        return
    payload = json.dumps([(block.line, block.code) for block in blocks])
    driver = _DRIVER.format(blocks=payload, page=f"docs/{page.name}", mark=_FAILED_MARK)
    done = run_python(driver, cwd=project, env={"MPLBACKEND": "Agg"}, timeout=180)
    if done.returncode != 0:
        failed = re.search(rf"{_FAILED_MARK} (\d+) (\d+)", done.stderr)
        where = f"python block {failed.group(1)} (line {failed.group(2)})" if failed else "python"
        pytest.fail(f"docs/{page.name}: {where} failed:\n{done.stderr[-4000:]}")


def _newest_run_ids(project: Path) -> list[str]:
    done = loopml_cli("runs", "ls", "--json", "--view", "all", "-n", "1000", cwd=project)
    assert done.returncode == 0, done.stderr
    return [run["id"] for run in json.loads(done.stdout)]


def _substitute(command: str, ids: list[str], where: str) -> str:
    values = {"<run id>": ids[:1], "<other run id>": ids[1:2]}
    for placeholder in _PLACEHOLDER.findall(command):
        value = values.get(placeholder)
        assert value is not None, f"{where}: unknown placeholder {placeholder} in `{command}`"
        assert value, f"{where}: the page's python blocks log too few runs for {placeholder}"
        command = command.replace(placeholder, value[0])
    return command


def _run_console_blocks(page: Path, project: Path) -> None:
    ids: list[str] | None = None
    for block in _blocks(page, "console"):
        for offset, line in enumerate(block.code.splitlines(), 1):
            if not line.startswith("$ "):
                continue
            where = f"docs/{page.name}: console block {block.number}, line {block.line + offset}"
            command = line[2:].strip()
            assert command.startswith("loopml "), f"{where}: only loopml commands run: {line}"
            if _PLACEHOLDER.search(command):
                ids = ids if ids is not None else _newest_run_ids(project)
                command = _substitute(command, ids, where)
            done = loopml_cli(*shlex.split(command)[1:], cwd=project)
            assert done.returncode == block.expected_exit, (
                f"{where}: `{command}` exited {done.returncode}, expected "
                f"{block.expected_exit}\nstdout:\n{done.stdout[-2000:]}\nstderr:\n{done.stderr}"
            )
            if block.expected_exit:
                assert done.stderr.startswith("error: "), f"{where}: {done.stderr}"
                assert done.stderr.count("\n") == 1, f"{where}: not one line:\n{done.stderr}"


def test_every_page_is_there() -> None:
    assert {page.name for page in PAGES} >= EXPECTED_PAGES


@pytest.mark.parametrize(
    "page", [*PAGES, ROOT / "README.md"], ids=[*(page.name for page in PAGES), "README.md"]
)
def test_page_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / ".loopml"))
    _run_python_blocks(page, tmp_path)
    _run_console_blocks(page, tmp_path)


# --- docs/cli.md covers the whole command line ----------------------------------------


def _root_command() -> Any:
    """The click command behind ``loopml`` (Typer vendors click, so it is duck-typed)."""
    import typer.main

    from loopml.cli import app

    return typer.main.get_command(app)


def _cli_commands() -> dict[str, Any]:
    """``"loopml runs ls"`` -> its click command, for every command of every group, nested
    groups included (``"loopml data schema set"``, and ``"loopml data schema"`` itself)."""
    found: dict[str, Any] = {}

    def walk(prefix: str, command: Any) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            if prefix != "loopml" or not hasattr(sub, "commands"):
                found[f"{prefix} {name}"] = sub  # top-level groups have no heading of their own
            walk(f"{prefix} {name}", sub)

    walk("loopml", _root_command())
    return found


def _long_options(command: Any) -> list[str]:
    names = []
    for param in command.params:
        if param.param_type_name == "option":
            names += [o for o in [*param.opts, *param.secondary_opts] if o.startswith("--")]
    return [name for name in names if name != "--help"]


def _sections(page: Path) -> dict[str, str]:
    """``### heading`` -> the text up to the next heading of level 1 to 3."""
    sections: dict[str, str] = {}
    heading = None
    in_code = False
    for line in page.read_text(encoding="utf-8").splitlines():
        in_code ^= line.startswith("```")
        match = None if in_code else re.match(r"^(#{1,3}) (.*?)\s*$", line)
        if match:
            heading = match.group(2).strip("` ") if len(match.group(1)) == 3 else None
            if heading is not None:
                sections[heading] = ""
        elif heading is not None:
            sections[heading] += line + "\n"
    return sections


def _mentions(text: str, option: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


def test_cli_reference_documents_every_command_and_option() -> None:
    page = DOCS / "cli.md"
    sections = _sections(page)
    commands = _cli_commands()
    problems = []
    for name, command in commands.items():
        section = sections.get(name)
        if section is None:
            problems.append(f"no '### {name}' heading")
            continue
        problems += [
            f"{name}: option {option} is not documented"
            for option in _long_options(command)
            if not _mentions(section, option)
        ]
    documented = {heading for heading in sections if heading.startswith("loopml ")}
    problems += [f"'### {name}' documents no command" for name in documented - set(commands)]
    text = page.read_text(encoding="utf-8")
    problems += [
        f"global option {option} is not documented"
        for option in _long_options(_root_command())
        if not _mentions(text, option)
    ]
    assert not problems, "docs/cli.md:\n" + "\n".join(problems)


# --- docs/errors.md lists every error class -------------------------------------------


def _error_classes() -> list[type[errors.LoopmlError]]:
    return [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.LoopmlError) and cls.__module__ == errors.__name__
    ]


def _table_rows(page: Path) -> list[dict[str, str]]:
    """Rows of every markdown table on the page, keyed by lower-cased header."""
    rows: list[dict[str, str]] = []
    header: list[str] | None = None
    for line in page.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if header is None:
            header = [cell.lower() for cell in cells]
        elif not all(set(cell) <= set(":- ") for cell in cells):
            rows.append(dict(zip(header, cells, strict=False)))
    return rows


def test_errors_page_lists_every_class_with_its_codes() -> None:
    rows = {row.get("class", ""): row for row in _table_rows(DOCS / "errors.md")}
    problems = []
    classes = _error_classes()
    for cls in classes:
        row = rows.get(f"`{cls.__name__}`")
        if row is None:
            problems.append(f"{cls.__name__} is not in the table")
            continue
        expected = {
            "code": f"`{cls.code}`",
            "http status": str(cls.http_status),
            "exit code": str(cls.exit_code),
        }
        problems += [
            f"{cls.__name__}: {column} is {row.get(column)!r}, the code says {value!r}"
            for column, value in expected.items()
            if row.get(column) != value
        ]
    names = {f"`{cls.__name__}`" for cls in classes}
    problems += [f"{name} is not an error class" for name in rows if name and name not in names]
    assert not problems, "docs/errors.md:\n" + "\n".join(problems)


# --- links ------------------------------------------------------------------------------


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors for the page's headings: lower case, punctuation dropped."""
    anchors = set()
    in_code = False
    for line in page.read_text(encoding="utf-8").splitlines():
        in_code ^= line.startswith("```")
        match = None if in_code else re.match(r"^#{1,6} (.*?)\s*$", line)
        if match:
            text = re.sub(r"[^\w\- ]", "", match.group(1).lower())
            anchors.add(text.replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("page", [ROOT / "README.md", *PAGES], ids=lambda p: p.name)
def test_relative_links_point_at_files_and_headings_that_exist(page: Path) -> None:
    broken = []
    for target in _LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # a URL
        path_text, _, anchor = target.partition("#")
        path = (page.parent / path_text).resolve() if path_text else page
        if not path.exists() or (anchor and path.suffix == ".md" and anchor not in _anchors(path)):
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)} has broken links: {broken}"


def test_the_index_links_every_page() -> None:
    linked = set(_LINK.findall((DOCS / "index.md").read_text(encoding="utf-8")))
    missing = [page.name for page in PAGES if page.name != "index.md" and page.name not in linked]
    assert not missing, f"docs/index.md does not link {missing}"
