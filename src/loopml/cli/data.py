"""``loopml data``: add, list, show, fetch and tag dataset versions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TimeElapsedColumn,
)

from ..clock import format_ms
from ..errors import IntegrityFailure, InvalidInput, NotFound, ValidationFailed
from ._output import console, err_console, print_json, styled, table

if TYPE_CHECKING:  # the store and the data code load on use: startup stays fast
    from ..data.entities import DatasetVersion

app = typer.Typer(
    help="Datasets: immutable, content-addressed versions of files, folders and tables.",
    no_args_is_help=True,
)
_SHOWN_FILES = 20


@app.command("add")
def add_cmd(
    name: str = typer.Argument(..., help="Dataset name, e.g. customers."),
    path: Path = typer.Argument(None, help="A file (CSV, Parquet, JSONL or any), or a folder."),
    sql: str = typer.Option(None, help="Snapshot this query's result (with --db) instead."),
    db: str = typer.Option(
        None, help="The database for --sql: PostgreSQL, MySQL/MariaDB or SQLite URL."
    ),
    url: str = typer.Option(None, help="Snapshot this HTTP API's JSON or CSV answer instead."),
    message: str = typer.Option(None, "--message", "-m", help="What changed in this version."),
    schema: Path = typer.Option(None, help="Check against this schema file, not the attached one."),
    warn_only: bool = typer.Option(
        False, "--warn-only", help="Store the version even if it breaks the schema."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Add a file or folder as the next version of a dataset (no new version if unchanged).

    A table is checked against the dataset's schema first (see 'loopml data schema').
    """
    from ..data.versioning import add
    from ..store import open_store

    data = _what_to_add(path, sql, db, url)
    store = open_store(create=True)
    checked = _read_schema(schema) if schema else None
    with _progress(f"adding {name}", quiet=json_output) as advance, _report_failures(json_output):
        result = add(
            store,
            name,
            data,
            message=message,
            schema=checked,
            warn_only=warn_only,
            progress=advance,
        )
    version = result.version
    if json_output:
        print_json({"created": result.created, **version.to_dict()})
        return
    if result.created:
        console.print(f"Added {version.ref}: {_summary(version)}")
        if version.anomalies:
            console.print(
                styled(
                    f"stored with {len(version.anomalies)} anomalies (loopml data show)", "yellow"
                )
            )
    else:
        console.print(f"{version.ref} already holds this content: no new version")


@app.command("ls")
def ls(
    name: str = typer.Argument(None, help="A dataset, to list its versions."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List datasets, or the versions of one dataset (newest first)."""
    from ..data.versioning import list_datasets, list_versions
    from ..store import open_store

    store = open_store(create=False)
    if name is None:
        found = list_datasets(store)
        if json_output:
            print_json([dataset.to_dict() for dataset in found])
            return
        output = table("dataset", "latest", "updated", "schema")
        for dataset in found:
            output.add_row(
                dataset.name,
                f"@{dataset.latest}" if dataset.latest else "",
                format_ms(dataset.updated_at),
                "yes" if dataset.has_schema else "",
            )
        console.print(output)
        return
    versions = list_versions(store, name)
    if json_output:
        print_json([version.to_dict() for version in versions])
        return
    output = table("version", "kind", "size", "contents", "tags", "author", "created", "message")
    for version in versions:
        output.add_row(
            version.ref,
            version.kind,
            _bytes(version.size),
            _contents(version),
            ", ".join(version.tags),
            version.author,
            format_ms(version.created_at),
            version.message or "",
        )
    console.print(output)


@app.command("show")
def show(
    ref: str = typer.Argument(..., help="NAME, NAME@VERSION or NAME@TAG."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """One version: what it holds, where it came from, its columns or files."""
    from ..data.versioning import get_version, manifest
    from ..store import open_store

    store = open_store(create=False)
    version = get_version(store, ref)
    files = manifest(store, version) if version.kind == "folder" else []
    if json_output:
        listing = [{"path": e.path, "size": e.size, "hash": e.hash} for e in files]
        print_json({**version.to_dict(), "files": listing})
        return
    console.print(styled(version.ref, "bold"), f" {_summary(version)}")
    facts = {
        "content": version.content_hash,
        "source": _source(version),
        "parent": f"@{version.parent_version}" if version.parent_version else "",
        "author": version.author,
        "created": format_ms(version.created_at),
        "message": version.message or "",
        "tags": ", ".join(version.tags),
    }
    for key, value in facts.items():
        if value:
            console.print(f"  {key:<8}", value)
    if version.columns:
        columns = table("column", "type", title="columns")
        for column, kind in version.columns:
            columns.add_row(column, kind)
        console.print(columns)
    if files:
        listing = table("path", "size", "hash", title=f"files ({len(files)})")
        for entry in files[:_SHOWN_FILES]:
            listing.add_row(entry.path, _bytes(entry.size), entry.hash[:16])
        console.print(listing)
        if len(files) > _SHOWN_FILES:
            console.print(
                styled(f"… and {len(files) - _SHOWN_FILES} more (--json lists all)", "dim")
            )


@app.command("get")
def get(
    ref: str = typer.Argument(..., help="NAME, NAME@VERSION or NAME@TAG."),
    dest: Path = typer.Argument(Path("."), help="Folder to write the files into."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Write the exact bytes of a version into a folder, checking every hash."""
    from ..data.versioning import get_version, materialize
    from ..store import open_store

    store = open_store(create=False)
    version = get_version(store, ref)
    with _progress(f"writing {version.ref}", total=version.file_count, quiet=json_output) as step:
        written = materialize(store, version, dest, progress=step)
    if json_output:
        print_json([str(path) for path in written])
    else:
        console.print(f"wrote {len(written)} file(s) of {version.ref} to {dest}")


@app.command("diff")
def diff_cmd(
    ref: str = typer.Argument(..., help="NAME@VERSION (compared with the version before it)."),
    other: str = typer.Argument(None, help="Another version: @VERSION, @TAG or NAME@VERSION."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """What changed: files added, removed, changed; for tables also columns, rows, statistics."""
    from ..data.diff import diff_versions
    from ..store import open_store

    store = open_store(create=False)
    changes = diff_versions(store, ref, other)
    if json_output:
        print_json(changes.to_dict())
        return
    if changes.same_content:
        console.print(f"{changes.old} and {changes.new} hold the same content")
        return
    console.print(styled(f"{changes.old} -> {changes.new}", "bold"))
    if changes.rows is not None:
        old_rows, new_rows = changes.rows
        console.print(f"  rows  {old_rows:,} -> {new_rows:,} ({new_rows - old_rows:+,})")
    if changes.files:
        files = table("change", "path", "size before", "size after", title="files")
        for change in changes.files:
            files.add_row(
                styled(change.change, _CHANGE_STYLE[change.change]),
                change.path,
                _bytes(change.old_size) if change.old_size is not None else "",
                _bytes(change.new_size) if change.new_size is not None else "",
            )
        console.print(files)
    if changes.columns:
        columns = table("change", "column", "type before", "type after", title="columns")
        for column in changes.columns:
            columns.add_row(
                column.change, column.column, column.old_type or "", column.new_type or ""
            )
        console.print(columns)
    if changes.stats:
        stats = table("column", "statistic", "before", "after", title="statistics")
        for stat in changes.stats:
            stats.add_row(stat.column, stat.stat, _plain(stat.old), _plain(stat.new))
        console.print(stats)


_CHANGE_STYLE = {"added": "green", "removed": "red", "changed": "yellow"}


@app.command("profile")
def profile_cmd(
    ref: str = typer.Argument(..., help="A table version: NAME, NAME@VERSION or NAME@TAG."),
    html: Path = typer.Option(None, help="Write the report, with charts, to this HTML file."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Per column: missing values, moments, quantiles, distinct counts, top values."""
    from ..data.versioning import get_version, version_profile
    from ..store import open_store

    store = open_store(create=False)
    version = get_version(store, ref)
    profile = version_profile(store, version)
    if html is not None:
        profile.save_html(html, title=f"{version.ref}")
    if json_output:
        print_json(profile.to_dict())
        return
    if html is not None:
        console.print(f"wrote the profile of {version.ref} to {html}")
    summary = profile.to_dict()
    output = table("column", "kind", "missing", "distinct", "min", "median", "max", "top")
    for name, column in summary["columns"].items():
        quantiles = column.get("quantiles") or {}
        top = column.get("top") or []
        output.add_row(
            name,
            column["kind"],
            f"{column.get('null_rate', 0):.1%}",
            _plain(column.get("distinct")),
            _plain(column.get("min")),
            _plain(quantiles.get("p50")),
            _plain(column.get("max")),
            ", ".join(f"{item['value']} ({item['count']})" for item in top[:3]),
        )
    console.print(f"{version.ref}: {summary['rows']:,} rows")
    console.print(output)


@app.command("validate")
def validate_cmd(
    name: str = typer.Argument(..., help="The dataset whose schema applies."),
    path: Path = typer.Argument(..., help="The table file to check (CSV, Parquet, JSONL)."),
    schema: Path = typer.Option(None, help="Check against this schema file instead."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Check new data against a schema and print every anomaly; stores nothing."""
    from ..data.checking import attached_schema, read_any_table
    from ..data.validation import validate
    from ..store import open_store

    store = open_store(create=False)
    checked = _read_schema(schema) if schema else attached_schema(store, name)
    if checked is None:
        raise InvalidInput(
            f"dataset '{name}' has no schema",
            hint=f"attach one: loopml data schema set {name} schema.yaml, or pass --schema",
        )
    report = validate(read_any_table(path), checked)
    if json_output:
        print_json(report.to_dict())
    else:
        console.print(report.to_text())
    if report.errors:
        raise ValidationFailed(
            f"{path} breaks the schema of '{name}': {len(report.errors)} error(s)",
            hint="see the report above",
        )


schema_app = typer.Typer(
    help="Schemas: what a dataset's tables must look like.", no_args_is_help=True
)
app.add_typer(schema_app, name="schema")


@schema_app.command("infer")
def schema_infer(
    ref: str = typer.Argument(..., help="A table version: NAME, NAME@VERSION or NAME@TAG."),
) -> None:
    """Print a schema inferred from a table version, as YAML to edit and attach."""
    from ..data.schema import infer_schema
    from ..data.versioning import get_version, read_version_table
    from ..store import open_store

    store = open_store(create=False)
    table_data = read_version_table(store, get_version(store, ref))
    typer.echo(infer_schema(table_data).to_yaml(), nl=False)


@schema_app.command("set")
def schema_set(
    name: str = typer.Argument(..., help="The dataset."),
    path: Path = typer.Argument(..., help="The schema file (YAML)."),
) -> None:
    """Attach a schema: later versions of the dataset are checked against it."""
    from ..data.checking import set_schema
    from ..store import open_store

    store = open_store(create=True)
    schema = set_schema(store, name, _schema_text(path), source=str(path))
    console.print(
        f"dataset '{name}' now checks new versions against {path} ({len(schema.columns)} columns)"
    )


@schema_app.command("show")
def schema_show(name: str = typer.Argument(..., help="The dataset.")) -> None:
    """Print the schema attached to a dataset."""
    from ..data.checking import attached_schema
    from ..store import open_store

    store = open_store(create=False)
    schema = attached_schema(store, name)
    if schema is None:
        raise NotFound(
            f"dataset '{name}' has no schema", hint=f"loopml data schema set {name} FILE"
        )
    typer.echo(schema.to_yaml(), nl=False)


@app.command("push")
def push_cmd(
    refs: list[str] = typer.Argument(None, help="NAME or NAME@VERSION (default: every dataset)."),
    remote: str = typer.Option(None, help="Where to: s3://bucket/prefix or a folder."),
    workers: int = typer.Option(8, min=1, help="Blobs sent at once."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Send the content of dataset versions to a remote: only what it lacks, in parallel."""
    _transfer_cmd("push", refs or [], remote, workers, json_output)


@app.command("pull")
def pull_cmd(
    refs: list[str] = typer.Argument(None, help="NAME or NAME@VERSION (default: every dataset)."),
    remote: str = typer.Option(None, help="Where from: s3://bucket/prefix or a folder."),
    workers: int = typer.Option(8, min=1, help="Blobs fetched at once."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Fetch the content of dataset versions from a remote: only what is missing here."""
    _transfer_cmd("pull", refs or [], remote, workers, json_output)


def _transfer_cmd(
    direction: str, refs: list[str], remote: str | None, workers: int, json_output: bool
) -> None:
    from ..data import remotes
    from ..store import open_store

    url = remotes.remote_url(remote)
    store = open_store(create=False)
    run = remotes.push if direction == "push" else remotes.pull
    with _progress(f"{direction} {url}", quiet=json_output, unit="bytes") as bar:
        report = run(
            store, refs, url, workers=workers, progress=bar.advance, on_total=bar.set_total
        )
    if json_output:
        print_json(report.to_dict())
    else:
        verb = "sent" if direction == "push" else "fetched"
        console.print(
            f"{verb} {report.transferred} blob(s), {_bytes(report.bytes)}; "
            f"{report.present} of {report.needed} were there already "
            f"({len(report.versions)} version(s))"
        )
        for failure in report.failed:
            console.print(styled("✗", "red"), failure)
    if not report.ok:
        raise IntegrityFailure(
            f"{len(report.failed)} blob(s) could not be {direction}ed to/from {url}",
            hint="see above; run 'loopml artifacts verify' on the side they came from",
        )


@app.command("tag")
def tag(
    ref: str = typer.Argument(..., help="NAME@VERSION to tag."),
    name: str = typer.Argument(..., help="The tag, e.g. gold (moves if it exists)."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Point a tag at a version; NAME@TAG then names it everywhere."""
    from ..data.versioning import tag_version
    from ..store import open_store

    store = open_store(create=False)
    version = tag_version(store, ref, name)
    if json_output:
        print_json(version.to_dict())
    else:
        console.print(f"{version.dataset}@{name} -> {version.ref}")


def _what_to_add(path: Path | None, sql: str | None, db: str | None, url: str | None) -> object:
    """The one thing to add: a path, a SQL snapshot or a URL snapshot."""
    given = [label for label, value in (("PATH", path), ("--sql", sql), ("--url", url)) if value]
    if len(given) != 1:
        raise InvalidInput(
            f"give exactly one of PATH, --sql or --url (got {', '.join(given) or 'none'})",
            hint="loopml data add NAME PATH | --sql QUERY --db URL | --url URL",
        )
    if sql is not None:
        if not db:
            raise InvalidInput("--sql needs --db", hint="e.g. --db postgresql+psycopg://host/db")
        from ..data.sources import from_sql

        return from_sql(sql, db)
    if url is not None:
        from ..data.sources import from_url

        return from_url(url)
    return path


def _plain(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _schema_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"no schema file at {path}", hint="check the path") from None


def _read_schema(path: Path):  # -> Schema; imported lazily with the validation code
    from ..data.schema import Schema

    return Schema.from_yaml(_schema_text(path), source=str(path))


@contextmanager
def _report_failures(quiet: bool) -> Iterator[None]:
    """Print the whole anomaly report before the one-line error of a failed check."""
    try:
        yield
    except ValidationFailed as error:
        report = getattr(error, "report", None)
        if report is not None:
            if quiet:
                print_json(report.to_dict())
            else:
                console.print(report.to_text())
        raise


def _summary(version: DatasetVersion) -> str:
    return f"{version.kind}, {_contents(version)}, {_bytes(version.size)}"


def _contents(version: DatasetVersion) -> str:
    if version.kind == "table":
        columns = len(version.columns or [])
        return f"{version.row_count:,} rows × {columns} columns ({version.format})"
    if version.kind == "folder":
        return f"{version.file_count:,} files"
    return "1 file"


def _source(version: DatasetVersion) -> str:
    source = version.source or {}
    if source.get("type") == "path":
        return source.get("path", "")
    if source.get("type") == "dataframe":
        return f"a {source.get('library')} table"
    if source.get("type") == "sql":
        return f"{source.get('query')}  on {source.get('db')}"
    if source.get("type") == "url":
        return f"{source.get('url')} ({source.get('status')}, {source.get('content_type')})"
    return ", ".join(f"{k}={v}" for k, v in source.items())


def _bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1000
    return f"{size} B"


class _Bar:
    """What a command may tell its progress bar: a total, learned late, and steps."""

    def __init__(self, progress: Progress, task: Any) -> None:
        self._progress, self._task = progress, task

    def advance(self, count: int) -> None:
        self._progress.advance(self._task, count)

    def set_total(self, total: int) -> None:
        self._progress.update(self._task, total=total)

    def __call__(self, count: int) -> None:
        self.advance(count)


@contextmanager
def _progress(
    label: str, *, total: int | None = None, quiet: bool = False, unit: str = "files"
) -> Iterator[_Bar]:
    counter = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        counter,
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=quiet or not err_console.is_terminal,
    ) as progress:
        yield _Bar(progress, progress.add_task(label, total=total))
