"""Data versioning, loopml against DVC 3 (``dvc add``) and md5sum, side by side.

Run it from loopml's venv::

    .venv/bin/python benchmarks/data.py            # full run: 2 GiB file, 50,000 files
    .venv/bin/python benchmarks/data.py --quick    # small smoke run
    .venv/bin/python benchmarks/data.py --tmp /big/disk  # where the scratch data goes

DVC lives in its own venv, ``benchmarks/.venv-peers`` (shared with the tracking
benchmark's MLflow; created when missing, and ``dvc>=3.50,<4`` installed there when it
holds no DVC 3). This file is also the worker of the cases that run Python
(``--worker CASE``). Every timed case runs in a fresh process, one after the other and
never two at the same time, with its own fresh store: ``LOOPML_HOME=<tmp>/.../.loopml``
for loopml, a scratch ``git init && dvc init`` repository with DVC's default cache and
link type for DVC.

The data is generated once per run from one seeded generator and shared: loopml,
md5sum and blake3 read it where it was written; DVC, whose ``add`` copies what it tracks
into its cache and replaces the workspace files with links (here: copies) to it, gets a
copy inside its scratch repository (copying is set-up).

Cases (sizes of a full run; ``--quick`` shrinks them):

``big``
    A 2 GiB file of random bytes. ``loopml data add big big.bin`` (the CLI, wall time of
    the whole process, as a user waits for it) against ``dvc add big.bin``; ``md5sum
    big.bin`` and blake3 on one thread (hashing only, in-process) for reference. The
    same add through the Python API (``loopml.data.add`` in a fresh process, another
    fresh store) gives the in-process time. Target: loopml at least 5x faster than DVC.
``folder``
    50,000 files of 1-8 KiB (random sizes and bytes) in subfolders of 1,000: ``loopml
    data add folder folder`` against ``dvc add folder``; md5sum and blake3 over every
    file for reference. Target: at least 10x.
``re-add``
    The same folder added again, unchanged, by a new process of each tool (nothing in
    memory helps). Target: loopml within 1 s.
``touched``
    The folder added again after 10 files were rewritten in place with new bytes of the
    same size (in loopml's source and in DVC's copy alike). Reported, no target.
``profile``
    ``profile_table`` on 250,000 and 1,000,000 rows × 20 columns, each size in a fresh
    process through ``benchmarks/profiling.py``'s worker: median seconds and peak
    resident memory beyond the input. Target: 1,000,000 rows within 3 s, and memory that
    does not grow with rows (the largest size within 1.5x the smallest's + 16 MiB).

Page cache and load: caches are never dropped. Before every timed case, dirty pages are
written out (``sync``) and the case's input is read once (loopml's source, or DVC's copy),
so every tool starts warm; each tool's code is warmed by an untimed ``--version`` at the
start. Then the script waits until the 1-minute load average is below 1.0 (up to 5
minutes, 1 minute in ``--quick``, warning when it gives up).

Checks that make the run fail (exit status 2) whatever the timings: after every loopml
add, ``loopml data get NAME@V DEST`` writes files whose hashes equal the source's; the
stored manifest lists every source file with its hash; the unchanged re-add makes no new
version; the touched re-add makes exactly one, whose manifest differs from the previous
one in exactly the 10 touched files, and stores exactly their bytes plus the manifest;
the API adds reach the same content hashes as the CLI; DVC's recorded md5 equals
md5sum's; the profiles count every row and give each column its kind. A missed target
makes a full run exit with status 1. Results are printed as a table and written to
``benchmarks/results/data.json`` (``data-quick.json`` for ``--quick``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _harness import (
    DVC,
    HERE,
    LOAD_LIMIT,
    LOOPML,
    BenchmarkError,
    base_env,
    dispatch,
    dvc_env,
    ensure_peer_dvc,
    finish,
    init_dvc_repo,
    loopml_env,
    loopml_version,
    progress_display,
    provenance,
    report_console,
    run_timed,
    script_parser,
    send_result,
    wait_for_quiet,
    warm_timings,
    worker_command,
)

SEED = 20261126
KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
READ_CHUNK = 8 * MIB

FULL = {
    "big_bytes": 2 * GIB,
    "files": 50_000,
    "per_folder": 1_000,
    "min_file": 1 * KIB,
    "max_file": 8 * KIB,
    "touched": 10,
    "profile_rows": [250_000, 1_000_000],
    "profile_repeat": 3,
    "max_wait": 300.0,
}
QUICK = {
    "big_bytes": 128 * MIB,
    "files": 2_000,
    "per_folder": 1_000,
    "min_file": 1 * KIB,
    "max_file": 8 * KIB,
    "touched": 10,
    "profile_rows": [25_000, 100_000],
    "profile_repeat": 1,
    "max_wait": 60.0,
}

TARGETS = {
    "big_ratio": 5.0,
    "folder_ratio": 10.0,
    "readd_s": 1.0,
    "profile_s": 3.0,
    "profile_rows": 1_000_000,
    "memory_growth": "largest size ≤ 1.5 × smallest size + 16 MiB",
}


# ---------------------------------------------------------------------------------------
# Workers (loopml's venv; LOOPML_HOME set by the parent for the API adds)
# ---------------------------------------------------------------------------------------


def read_file_chunks(path: str | Path, use: Callable[[memoryview], None]) -> int:
    """Feed ``path`` to ``use`` in 8 MiB chunks read into one reused buffer."""
    buffer = bytearray(READ_CHUNK)
    view = memoryview(buffer)
    total = 0
    with open(path, "rb", buffering=0) as handle:
        while count := handle.readinto(buffer):
            use(view[:count])
            total += count
    return total


def worker_blake3_file(cfg: dict[str, Any]) -> dict[str, Any]:
    """Hashing only: blake3 on one thread, then on every core, of one warm file."""
    from blake3 import blake3

    result: dict[str, Any] = {}
    for label, threads in (("one_thread", 1), ("all_threads", blake3.AUTO)):
        hasher = blake3(max_threads=threads)
        start = time.perf_counter()
        size = read_file_chunks(cfg["path"], hasher.update)
        result[label] = {"seconds": time.perf_counter() - start, "hash": hasher.hexdigest()}
    result["bytes"] = size
    return result


def worker_blake3_folder(cfg: dict[str, Any]) -> dict[str, Any]:
    """Walk, read and hash every file of a folder on one thread (a b3sum of the folder)."""
    from blake3 import blake3

    start = time.perf_counter()
    listing = blake3()
    count = total = 0
    for relative, path in walk_files(Path(cfg["root"])):
        with open(path, "rb") as handle:
            data = handle.read()
        listing.update(f"{relative}\0{len(data)}\0{blake3(data).hexdigest()}\n".encode())
        count += 1
        total += len(data)
    return {
        "seconds": time.perf_counter() - start,
        "files": count,
        "bytes": total,
        "listing_hash": listing.hexdigest(),
    }


def worker_api_add(cfg: dict[str, Any]) -> dict[str, Any]:
    """``loopml.data.add`` timed inside the process (store opened by the call itself)."""
    start = time.perf_counter()
    import loopml.data

    imported = time.perf_counter()
    result = loopml.data.add(cfg["name"], cfg["path"])
    added = time.perf_counter()
    return {
        "import_seconds": imported - start,
        "seconds": added - imported,
        "created": result.created,
        "version": result.version.version,
        "content_hash": result.version.content_hash,
    }


WORKERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "blake3-file": worker_blake3_file,
    "blake3-folder": worker_blake3_folder,
    "api-add": worker_api_add,
}


def worker_main(case: str, config: str) -> None:
    send_result(WORKERS[case](json.loads(config)))


# ---------------------------------------------------------------------------------------
# Data: generated once per run, from one seeded generator
# ---------------------------------------------------------------------------------------


def walk_files(root: Path) -> list[tuple[str, str]]:
    """(POSIX path relative to ``root``, absolute path) of every file, in path order."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in files:
            path = os.path.join(folder, name)
            found.append((Path(path).relative_to(root).as_posix(), path))
    found.sort()
    return found


def make_big(path: Path, size: int) -> str:
    """``size`` random bytes at ``path``; returns their blake3 hash."""
    import numpy as np
    from blake3 import blake3

    rng = np.random.default_rng(SEED)
    hasher = blake3(max_threads=blake3.AUTO)
    with path.open("wb") as out:
        left = size
        while left:
            chunk = rng.bytes(min(left, 64 * MIB))
            hasher.update(chunk)
            out.write(chunk)
            left -= len(chunk)
    return hasher.hexdigest()


def folder_file(index: int, per_folder: int) -> str:
    return f"part-{index // per_folder:03d}/file-{index:06d}.bin"


def make_folder(root: Path, sizes: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """``files`` files of random sizes and bytes; returns path -> (size, blake3 hash)."""
    import numpy as np
    from blake3 import blake3

    rng = np.random.default_rng(SEED + 1)
    count = sizes["files"]
    lengths = rng.integers(sizes["min_file"], sizes["max_file"] + 1, size=count)
    payload = rng.bytes(int(lengths.sum()))
    expected: dict[str, tuple[int, str]] = {}
    offset = 0
    for index, length in enumerate(lengths.tolist()):
        relative = folder_file(index, sizes["per_folder"])
        data = payload[offset : offset + length]
        offset += length
        target = root / relative
        if index % sizes["per_folder"] == 0:
            target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        expected[relative] = (length, blake3(data).hexdigest())
    return expected


def touch_files(
    roots: list[Path], expected: dict[str, tuple[int, str]], count: int
) -> dict[str, tuple[int, str]]:
    """Rewrite ``count`` files in place, same size, new bytes, under every root alike."""
    from blake3 import blake3

    rng = random.Random(SEED + 2)
    chosen = sorted(rng.sample(sorted(expected), count))
    changed = {}
    for relative in chosen:
        size = expected[relative][0]
        data = rng.randbytes(size)
        for root in roots:
            target = root / relative
            if not os.access(target, os.W_OK):
                target.chmod(0o644)
            with target.open("r+b") as handle:
                handle.write(data)
        changed[relative] = (size, blake3(data).hexdigest())
    return changed


def hash_tree(root: Path) -> dict[str, tuple[int, str]]:
    from blake3 import blake3

    tree = {}
    for relative, path in walk_files(root):
        hasher = blake3(max_threads=blake3.AUTO)
        size = read_file_chunks(path, hasher.update)
        tree[relative] = (size, hasher.hexdigest())
    return tree


def listing_hash(expected: dict[str, tuple[int, str]]) -> str:
    from blake3 import blake3

    listing = blake3()
    for relative in sorted(expected):
        size, digest = expected[relative]
        listing.update(f"{relative}\0{size}\0{digest}\n".encode())
    return listing.hexdigest()


def warm(paths: list[Path]) -> int:
    """Read every file under ``paths`` once, so the case starts with them in memory."""
    total = 0
    for path in paths:
        if path.is_dir():
            for _relative, file in walk_files(path):
                total += read_file_chunks(file, lambda _view: None)
        else:
            total += read_file_chunks(path, lambda _view: None)
    return total


# ---------------------------------------------------------------------------------------
# Parent: disk use, loopml's and DVC's records
# ---------------------------------------------------------------------------------------


def disk_use(path: Path) -> dict[str, int]:
    """Bytes on disk and apparent bytes (``du``), and the number of files under ``path``."""
    if not path.exists():
        return {"disk": 0, "apparent": 0, "files": 0}

    def du(*extra: str) -> int:
        done = subprocess.run(
            ["du", "-s", "--block-size=1", *extra, str(path)],
            capture_output=True,
            text=True,
            check=True,
        )
        return int(done.stdout.split()[0])

    files = sum(len(names) for _folder, _dirs, names in os.walk(path))
    return {"disk": du(), "apparent": du("--apparent-size"), "files": files}


def blob_sizes(home: Path) -> dict[str, int]:
    """Every blob of a loopml store under ``home``: hash -> size."""
    blobs = home / ".loopml" / "artifacts" / "blobs"
    sizes = {}
    for _folder, _dirs, names in os.walk(blobs):
        for name in names:
            sizes[name] = (Path(_folder) / name).stat().st_size
    return sizes


def loopml_json(args: list[str], home: Path) -> Any:
    done = subprocess.run(
        [str(LOOPML), *args, "--json"],
        cwd=home,
        env=loopml_env(home, "DVC_"),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchmarkError(f"loopml {' '.join(args)} failed: {done.stderr.strip()}")
    return json.loads(done.stdout)


def dvc_outs(dvc_file: Path) -> dict[str, Any]:
    """md5 and nfiles of the first output in a ``.dvc`` file."""
    text = dvc_file.read_text()
    md5 = re.search(r"md5: (\S+)", text)
    nfiles = re.search(r"nfiles: (\d+)", text)
    return {
        "md5": md5.group(1) if md5 else None,
        "nfiles": int(nfiles.group(1)) if nfiles else None,
    }


def copy_tree_or_file(source: Path, dest: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, dest)
    else:
        shutil.copyfile(source, dest)


# ---------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------


class Bench:
    """Runs the timed cases one at a time, each after ``sync``, a warm read and a quiet
    machine; remembers every figure and every failed check."""

    def __init__(self, sizes: dict[str, Any], work: Path, progress: Any, console: Any) -> None:
        self.sizes = sizes
        self.work = work
        self.progress = progress
        self.console = console
        self.raw: dict[str, Any] = {"cases": {}, "disk": {}, "checks": {}}
        self.problems: list[str] = []
        self.load_waits: list[dict[str, Any]] = []

    # --- running one timed case ---

    def timed(
        self,
        key: str,
        label: str,
        command: list[str],
        *,
        cwd: Path,
        env: dict[str, str],
        warm_paths: list[Path],
    ) -> dict[str, Any]:
        task = self.progress.add_task(label, total=1)
        os.sync()  # write-back from earlier cases does not land in this one
        warm(warm_paths)
        quiet = wait_for_quiet(
            self.sizes["max_wait"],
            progress=self.progress,
            task=task,
            label=label,
            console=self.console,
        )
        log = self.work / "logs" / f"{key}.log"
        result = run_timed(command, cwd=cwd, env=env, log=log, peak_rss=True)
        result["load"] = quiet
        self.load_waits.append({"case": key, **quiet})
        self.progress.update(task, completed=1)
        self.raw["cases"][key] = {k: v for k, v in result.items() if k != "output"}
        return result

    def worker(
        self, key: str, label: str, case: str, cfg: dict[str, Any], *, home: Path, warm_paths
    ) -> dict[str, Any]:
        return self.timed(
            key,
            label,
            worker_command(__file__, case, cfg),
            cwd=home,
            env=loopml_env(home, "DVC_"),
            warm_paths=warm_paths,
        )

    def check(self, key: str, ok: bool, what: str) -> bool:
        self.raw["checks"][key] = {"ok": ok, "what": what}
        if not ok:
            self.problems.append(f"{key}: {what}")
        return ok

    def home(self, name: str) -> Path:
        path = self.work / name
        path.mkdir()
        return path

    # --- checks on loopml's stores ---

    def check_get(self, key: str, home: Path, ref: str, expected: dict[str, tuple[int, str]]):
        """``loopml data get REF DEST`` must write exactly the expected files and bytes."""
        dest = self.work / f"restored-{key}"
        done = subprocess.run(
            [str(LOOPML), "data", "get", ref, str(dest)],
            cwd=home,
            env=loopml_env(home, "DVC_"),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            return self.check(key, False, f"loopml data get {ref} failed: {done.stderr.strip()}")
        restored = hash_tree(dest)
        shutil.rmtree(dest)
        wrong = sorted(
            p for p in expected.keys() | restored.keys() if expected.get(p) != restored.get(p)
        )
        what = (
            f"loopml data get {ref}: {len(restored):,} files, hashes equal the source's"
            if not wrong
            else f"loopml data get {ref}: {len(wrong):,} files differ, e.g. {wrong[:3]}"
        )
        return self.check(key, not wrong, what)

    def versions_of(self, home: Path, name: str) -> list[dict[str, Any]]:
        return loopml_json(["data", "ls", name], home)

    def manifest_of(self, home: Path, ref: str) -> dict[str, tuple[int, str]]:
        shown = loopml_json(["data", "show", ref], home)
        return {entry["path"]: (entry["size"], entry["hash"]) for entry in shown["files"]}

    # --- the cases ---

    def run_big(self) -> None:
        sizes = self.sizes
        data = self.work / "big-data"
        data.mkdir()
        big = data / "big.bin"
        task = self.progress.add_task(
            f"generating a {sizes['big_bytes'] / GIB:g} GiB file", total=1
        )
        started = time.perf_counter()
        digest = make_big(big, sizes["big_bytes"])
        expected = {"big.bin": (sizes["big_bytes"], digest)}
        self.raw["generate_big_seconds"] = time.perf_counter() - started
        self.progress.update(task, completed=1)

        md5 = self.timed(
            "big.md5sum",
            "big file: md5sum",
            ["md5sum", "big.bin"],
            cwd=data,
            env=base_env("DVC_"),
            warm_paths=[big],
        )
        md5_hex = md5["output"].split()[0]
        b3 = self.worker(
            "big.blake3",
            "big file: blake3 (hashing only)",
            "blake3-file",
            {"path": str(big)},
            home=data,
            warm_paths=[big],
        )["worker"]
        self.check(
            "big.blake3",
            b3["one_thread"]["hash"] == digest == b3["all_threads"]["hash"],
            "blake3 reference hashes equal the generator's",
        )

        cli_home = self.home("loopml-big-cli")
        cli = self.timed(
            "big.loopml",
            "big file: loopml data add (CLI)",
            [str(LOOPML), "data", "add", "big", "big.bin"],
            cwd=data,
            env=loopml_env(cli_home, "DVC_"),
            warm_paths=[big],
        )
        api_home = self.home("loopml-big-api")
        api = self.worker(
            "big.loopml_api",
            "big file: loopml.data.add (API)",
            "api-add",
            {"name": "big", "path": str(big)},
            home=api_home,
            warm_paths=[big],
        )["worker"]

        repo = self.work / "dvc-big"
        init_dvc_repo(repo)
        copy_tree_or_file(big, repo / "big.bin")
        self.timed(
            "big.dvc",
            "big file: dvc add",
            [str(DVC), "add", "big.bin"],
            cwd=repo,
            env=dvc_env(self.work),
            warm_paths=[repo / "big.bin"],
        )

        listed = self.versions_of(cli_home, "big")
        self.check(
            "big.loopml.version",
            "Added big@1" in cli["output"] and len(listed) == 1 and api["created"],
            f"CLI made big@1 ({len(listed)} version(s)); API created={api['created']}",
        )
        self.check(
            "big.loopml.api_same",
            api["content_hash"] == listed[0]["content_hash"] == digest,
            "CLI and API versions hold the generator's blake3 hash",
        )
        self.check_get("big.loopml.get", cli_home, "big@1", expected)
        recorded = dvc_outs(repo / "big.bin.dvc")
        self.check(
            "big.dvc.md5",
            recorded["md5"] == md5_hex,
            f"big.bin.dvc records md5 {recorded['md5']}, md5sum says {md5_hex}",
        )
        self.raw["disk"]["big"] = {
            "loopml_artifacts": disk_use(cli_home / ".loopml" / "artifacts"),
            "loopml_store": disk_use(cli_home / ".loopml"),
            "dvc_cache": disk_use(repo / ".dvc" / "cache"),
        }
        self.raw["md5_big"] = md5_hex
        for path in (data, cli_home, api_home, repo):
            shutil.rmtree(path)

    def run_folder(self) -> None:
        sizes = self.sizes
        data = self.work / "folder-data"
        source = data / "folder"
        source.mkdir(parents=True)
        task = self.progress.add_task(f"generating {sizes['files']:,} small files", total=1)
        started = time.perf_counter()
        expected = make_folder(source, sizes)
        self.raw["generate_folder_seconds"] = time.perf_counter() - started
        self.raw["folder_bytes"] = sum(size for size, _digest in expected.values())
        self.progress.update(task, completed=1)

        self.timed(
            "folder.md5sum",
            "folder: md5sum of every file",
            ["sh", "-c", "find . -type f -print0 | xargs -0 md5sum > /dev/null"],
            cwd=source,
            env=base_env("DVC_"),
            warm_paths=[source],
        )
        b3 = self.worker(
            "folder.blake3",
            "folder: blake3 of every file (one thread)",
            "blake3-folder",
            {"root": str(source)},
            home=data,
            warm_paths=[source],
        )["worker"]
        self.check(
            "folder.blake3",
            b3["listing_hash"] == listing_hash(expected),
            f"blake3 reference read {b3['files']:,} files with the generator's hashes",
        )

        cli_home = self.home("loopml-folder-cli")
        api_home = self.home("loopml-folder-api")
        repo = self.work / "dvc-folder"
        init_dvc_repo(repo)
        started = time.perf_counter()
        copy_tree_or_file(source, repo / "folder")
        self.raw["dvc_copy_seconds"] = time.perf_counter() - started
        dvc_source = repo / "folder"
        add_cli = [str(LOOPML), "data", "add", "folder", "folder"]
        api_cfg = {"name": "folder", "path": str(source)}

        def add_all(step: str, label: str) -> tuple[dict[str, Any], dict[str, Any]]:
            cli = self.timed(
                f"{step}.loopml",
                f"{label}: loopml data add (CLI)",
                add_cli,
                cwd=data,
                env=loopml_env(cli_home, "DVC_"),
                warm_paths=[source],
            )
            api = self.worker(
                f"{step}.loopml_api",
                f"{label}: loopml.data.add (API)",
                "api-add",
                api_cfg,
                home=api_home,
                warm_paths=[source],
            )["worker"]
            self.timed(
                f"{step}.dvc",
                f"{label}: dvc add",
                [str(DVC), "add", "folder"],
                cwd=repo,
                env=dvc_env(self.work),
                warm_paths=[dvc_source],
            )
            return cli, api

        def stores(step: str) -> None:
            self.raw["disk"][step] = {
                "loopml_artifacts": disk_use(cli_home / ".loopml" / "artifacts"),
                "loopml_store": disk_use(cli_home / ".loopml"),
                "dvc_cache": disk_use(repo / ".dvc" / "cache"),
            }

        # first add
        cli, api = add_all("folder", "folder")
        listed = self.versions_of(cli_home, "folder")
        self.check(
            "folder.loopml.version",
            "Added folder@1" in cli["output"] and len(listed) == 1 and api["version"] == 1,
            f"CLI made folder@1 ({len(listed)} version(s)); API made folder@{api['version']}",
        )
        self.check(
            "folder.loopml.api_same",
            api["content_hash"] == listed[0]["content_hash"],
            "CLI and API folder versions have the same content hash",
        )
        manifest_1 = self.manifest_of(cli_home, "folder@1")
        self.check(
            "folder.loopml.manifest",
            manifest_1 == expected,
            f"folder@1's manifest lists {len(manifest_1):,} files with the source's hashes",
        )
        self.check_get("folder.loopml.get", cli_home, "folder@1", expected)
        first_dvc = dvc_outs(repo / "folder.dvc")
        self.check(
            "folder.dvc.nfiles",
            first_dvc["nfiles"] == len(expected),
            f"folder.dvc records {first_dvc['nfiles']} files",
        )
        stores("folder")

        # unchanged re-add
        cli, api = add_all("readd", "re-add unchanged")
        listed = self.versions_of(cli_home, "folder")
        self.check(
            "readd.loopml.no_version",
            "no new version" in cli["output"]
            and len(listed) == 1
            and not api["created"]
            and api["version"] == 1,
            f"CLI: {len(listed)} version(s) after the re-add; API created={api['created']}",
        )
        self.check_get("readd.loopml.get", cli_home, "folder@latest", expected)
        again_dvc = dvc_outs(repo / "folder.dvc")
        self.check("readd.dvc.same", again_dvc == first_dvc, "folder.dvc unchanged by the re-add")
        stores("readd")

        # re-add after touching files
        before_blobs = blob_sizes(cli_home)
        changed = touch_files([source, dvc_source], expected, sizes["touched"])
        touched = {**expected, **changed}
        cli, api = add_all("touched", f"re-add, {sizes['touched']} files edited")
        listed = self.versions_of(cli_home, "folder")
        self.check(
            "touched.loopml.one_version",
            "Added folder@2" in cli["output"]
            and len(listed) == 2
            and api["created"]
            and api["version"] == 2
            and api["content_hash"] == listed[0]["content_hash"],
            f"CLI: {len(listed)} version(s); API made folder@{api['version']} "
            f"(created={api['created']}), same content hash as the CLI's",
        )
        manifest_2 = self.manifest_of(cli_home, "folder@2")
        differing = sorted(
            p
            for p in manifest_1.keys() | manifest_2.keys()
            if manifest_1.get(p) != manifest_2.get(p)
        )
        self.check(
            "touched.loopml.manifest",
            differing == sorted(changed) and manifest_2 == touched,
            f"folder@2's manifest differs from folder@1's in {len(differing)} files "
            f"({'exactly the edited ones' if differing == sorted(changed) else differing[:5]})",
        )
        self.check_get("touched.loopml.get", cli_home, "folder@2", touched)
        after_blobs = blob_sizes(cli_home)
        new_blobs = {h: s for h, s in after_blobs.items() if h not in before_blobs}
        manifest_blob = listed[0]["blob"]
        new_content = sum(s for h, s in new_blobs.items() if h != manifest_blob)
        edited_bytes = sum(size for size, _digest in changed.values())
        self.raw["touched_store"] = {
            "new_blobs": len(new_blobs),
            "new_blob_bytes": sum(new_blobs.values()),
            "manifest_bytes": new_blobs.get(manifest_blob, 0),
            "new_content_bytes": new_content,
            "edited_bytes": edited_bytes,
        }
        self.check(
            "touched.loopml.stored",
            manifest_blob in new_blobs and new_content == edited_bytes,
            f"stored {len(new_blobs)} new blobs: the manifest and {new_content:,} bytes of "
            f"content for {edited_bytes:,} bytes edited",
        )
        touched_dvc = dvc_outs(repo / "folder.dvc")
        self.check(
            "touched.dvc.changed",
            touched_dvc["md5"] != first_dvc["md5"] and touched_dvc["nfiles"] == len(expected),
            "folder.dvc records a new directory hash",
        )
        stores("touched")
        for path in (data, cli_home, api_home, repo):
            shutil.rmtree(path)

    def run_profile(self) -> None:
        profiling = load_profiling()
        options = argparse.Namespace(repeat=self.sizes["profile_repeat"], batch_rows=65_536)
        results = []
        for rows in self.sizes["profile_rows"]:
            label = f"profile_table, {rows:,} rows × 20 columns"
            task = self.progress.add_task(label, total=1)
            os.sync()
            quiet = wait_for_quiet(
                self.sizes["max_wait"],
                progress=self.progress,
                task=task,
                label=label,
                console=self.console,
            )
            self.load_waits.append({"case": f"profile.{rows}", **quiet})
            result = profiling.run_worker(rows, options)
            result["load"] = quiet
            results.append(result)
            self.progress.update(task, completed=1)
            self.check(
                f"profile.{rows}",
                result["profiled_rows"] == rows and result["kinds"] == profiling.EXPECTED_KINDS,
                f"{rows:,} rows: the profile counts every row and gives each column its kind",
            )
        self.raw["profile"] = results


def load_profiling() -> Any:
    """``benchmarks/profiling.py`` as a module: its table, worker and expected kinds."""
    spec = importlib.util.spec_from_file_location("loopml_bench_profiling", HERE / "profiling.py")
    if spec is None or spec.loader is None:
        raise BenchmarkError(f"cannot load {HERE / 'profiling.py'}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------
# Judging and printing
# ---------------------------------------------------------------------------------------


def judge(raw: dict[str, Any], sizes: dict[str, Any]) -> list[dict[str, Any]]:
    cases, checks = raw["cases"], raw["checks"]

    def ok(*keys: str) -> bool:
        return all(checks[key]["ok"] for key in checks if key.startswith(keys))

    def seconds(key: str) -> float:
        return cases[key]["seconds"]

    rows: list[dict[str, Any]] = []
    big_gib = sizes["big_bytes"] / GIB
    folder_mb = raw["folder_bytes"] / 1e6
    for key, label, size, target_key in (
        ("big", "add a file", f"{big_gib:g} GiB random", "big_ratio"),
        (
            "folder",
            "add a folder",
            f"{sizes['files']:,} files of 1-8 KiB, {folder_mb:,.0f} MB",
            "folder_ratio",
        ),
    ):
        loop, dvc = seconds(f"{key}.loopml"), seconds(f"{key}.dvc")
        target = TARGETS[target_key]
        rows.append(
            {
                "case": label,
                "size": size,
                "loopml": loop,
                "dvc": dvc,
                "ratio": dvc / loop,
                "md5sum": seconds(f"{key}.md5sum"),
                "blake3": cases[f"{key}.blake3"]["worker"]["one_thread"]["seconds"]
                if key == "big"
                else cases[f"{key}.blake3"]["worker"]["seconds"],
                "target": f"≥ {target:g}x",
                "passed": dvc / loop >= target,
                "check": "get: same bytes" if ok(f"{key}.loopml") else "FAILED (see below)",
            }
        )
    loop, dvc = seconds("readd.loopml"), seconds("readd.dvc")
    rows.append(
        {
            "case": "re-add the folder unchanged",
            "size": f"{sizes['files']:,} files, new process",
            "loopml": loop,
            "dvc": dvc,
            "ratio": dvc / loop,
            "md5sum": None,
            "blake3": None,
            "target": f"≤ {TARGETS['readd_s']:g} s",
            "passed": loop <= TARGETS["readd_s"],
            "check": "no new version" if ok("readd.loopml") else "FAILED (see below)",
        }
    )
    loop, dvc = seconds("touched.loopml"), seconds("touched.dvc")
    rows.append(
        {
            "case": f"re-add, {sizes['touched']} files edited",
            "size": f"{sizes['touched']} of {sizes['files']:,}, same sizes",
            "loopml": loop,
            "dvc": dvc,
            "ratio": dvc / loop,
            "md5sum": None,
            "blake3": None,
            "target": "",
            "passed": None,
            "check": f"1 new version, {sizes['touched']} files differ"
            if ok("touched.loopml")
            else "FAILED (see below)",
        }
    )
    profiles = raw["profile"]
    for result in profiles:
        rows_n = result["rows"]
        median_s = statistics.median(result["seconds"])
        is_target = rows_n == max(sizes["profile_rows"])
        rows.append(
            {
                "case": "profile_table",
                "size": f"{rows_n:,} rows × {result['columns']}, "
                f"+{result['peak_growth'] / MIB:.0f} MiB peak",
                "loopml": median_s,
                "dvc": None,
                "ratio": None,
                "md5sum": None,
                "blake3": None,
                "target": f"≤ {TARGETS['profile_s']:g} s" if is_target else "",
                "passed": median_s <= TARGETS["profile_s"] if is_target else None,
                "check": "rows, kinds right" if ok(f"profile.{rows_n}") else "FAILED",
            }
        )
    smallest, largest = profiles[0], profiles[-1]
    limit = 1.5 * smallest["peak_growth"] + 16 * MIB
    rows.append(
        {
            "case": "profile_table memory",
            "size": f"{smallest['rows']:,} → {largest['rows']:,} rows",
            "loopml": None,
            "loopml_text": f"+{smallest['peak_growth'] / MIB:.0f} → "
            f"+{largest['peak_growth'] / MIB:.0f} MiB",
            "dvc": None,
            "ratio": None,
            "md5sum": None,
            "blake3": None,
            "target": "flat in rows",
            "passed": largest["peak_growth"] <= limit,
            "check": f"limit +{limit / MIB:.0f} MiB",
        }
    )
    return rows


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value * 1000:,.0f} ms" if value < 1 else f"{value:,.2f} s"


def print_table(rows: list[dict[str, Any]], console: Any, title: str, dvc_version: str) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for name, justify in (
        ("case", "left"),
        ("size", "left"),
        ("loopml", "right"),
        (f"DVC {dvc_version}", "right"),
        ("ratio", "right"),
        ("md5sum", "right"),
        ("blake3 1 thread", "right"),
        ("target", "left"),
        ("result", "left"),
        ("check", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        if row["passed"] is None:
            verdict = ""
        else:
            verdict = "[green]PASS[/green]" if row["passed"] else "[red]FAIL[/red]"
        table.add_row(
            row["case"],
            row["size"],
            row.get("loopml_text") or fmt_seconds(row["loopml"]),
            fmt_seconds(row["dvc"]),
            "" if row["ratio"] is None else f"{row['ratio']:,.1f}x",
            fmt_seconds(row["md5sum"]),
            fmt_seconds(row["blake3"]),
            row["target"],
            verdict,
            row["check"],
        )
    console.print(table)


def fmt_bytes(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value >= GIB:
        return f"{value / GIB:,.2f} GiB"
    if value >= MIB:
        return f"{value / MIB:,.1f} MiB"
    return f"{value / KIB:,.1f} KiB"


def print_notes(raw: dict[str, Any], sizes: dict[str, Any], console: Any) -> None:
    cases = raw["cases"]
    say = console.print
    say(
        "  loopml and DVC: wall time of the whole command in a fresh process (start-up "
        "included); ratio = DVC's time / loopml's"
    )
    say(
        f"  start-up alone: loopml --version {fmt_seconds(raw['startup']['loopml'])}, "
        f"dvc --version {fmt_seconds(raw['startup']['dvc'])} (warm, median of 3)"
    )
    for step, label in (
        ("big", "add a file"),
        ("folder", "add a folder"),
        ("readd", "re-add unchanged"),
        ("touched", "re-add, files edited"),
    ):
        cli, dvc = cases[f"{step}.loopml"], cases[f"{step}.dvc"]
        api_case = cases[f"{step}.loopml_api"]
        api = api_case["worker"]
        say(
            f"  {label:<20} loopml CLI {fmt_seconds(cli['seconds'])} (CPU "
            f"{cli['cpu_seconds']:.2f} s, peak RSS {fmt_bytes(cli['max_rss'])}); in-process "
            f"loopml.data.add {fmt_seconds(api['seconds'])} after import "
            f"{fmt_seconds(api['import_seconds'])}, that process {fmt_seconds(api_case['seconds'])}"
            f"; dvc add {fmt_seconds(dvc['seconds'])} (CPU {dvc['cpu_seconds']:.2f} s, peak RSS "
            f"{fmt_bytes(dvc['max_rss'])})"
        )
    b3 = cases["big.blake3"]["worker"]
    md5_seconds = cases["big.md5sum"]["seconds"]
    say(
        f"  hashing {sizes['big_bytes'] / GIB:g} GiB: md5sum {fmt_seconds(md5_seconds)}"
        f", blake3 one thread {fmt_seconds(b3['one_thread']['seconds'])}, every core "
        f"{fmt_seconds(b3['all_threads']['seconds'])}"
    )
    say(
        f"  set-up (not timed): generating the file {raw['generate_big_seconds']:.1f} s, the "
        f"folder {raw['generate_folder_seconds']:.1f} s; copying the folder into DVC's repo "
        f"{raw['dvc_copy_seconds']:.1f} s"
    )
    say(
        "  page cache: warm for every tool and case. Before each timed case dirty pages were "
        "written out (sync) and the case's input read once"
    )
    say(
        "    (loopml, md5sum, blake3: the source; DVC: its copy in the scratch repo); nothing "
        "was dropped. Each tool's code was warmed by an untimed --version first"
    )
    waits = raw["load_waits"]
    gave_up = [w["case"] for w in waits if w["gave_up"]]
    say(
        f"  load average before the timed cases: {min(w['load'] for w in waits):.2f} to "
        f"{max(w['load'] for w in waits):.2f} (limit {LOAD_LIMIT}); waited "
        f"{sum(w['waited'] for w in waits):.0f} s in all"
        + (f"; gave up waiting before: {', '.join(gave_up)}" if gave_up else "")
    )
    for step, label in (
        ("big", "after adding the file"),
        ("folder", "after adding the folder"),
        ("touched", "after the edited re-add"),
    ):
        disk = raw["disk"][step]
        loop, dvc = disk["loopml_artifacts"], disk["dvc_cache"]
        say(
            f"  disk {label:<24} .loopml/artifacts {fmt_bytes(loop['disk'])} in "
            f"{loop['files']:,} files (apparent {fmt_bytes(loop['apparent'])}; whole .loopml "
            f"{fmt_bytes(disk['loopml_store']['disk'])}) vs .dvc/cache {fmt_bytes(dvc['disk'])} in "
            f"{dvc['files']:,} files (apparent {fmt_bytes(dvc['apparent'])})"
        )
    touched = raw["touched_store"]
    grown = {
        tool: raw["disk"]["touched"][key]["disk"] - raw["disk"]["readd"][key]["disk"]
        for tool, key in (("loopml", "loopml_artifacts"), ("dvc", "dvc_cache"))
    }
    say(
        f"  the edited re-add stored {touched['new_blobs']} new loopml blobs: "
        f"{touched['new_content_bytes']:,} bytes of content for {touched['edited_bytes']:,} "
        f"bytes edited, plus a {fmt_bytes(touched['manifest_bytes'])} manifest; on disk "
        f".loopml/artifacts grew {fmt_bytes(grown['loopml'])}, .dvc/cache "
        f"{fmt_bytes(grown['dvc'])}"
    )
    for result in raw["profile"]:
        say(
            f"  profile_table {result['rows']:>9,} rows: median "
            f"{statistics.median(result['seconds']):.2f} s, min {min(result['seconds']):.2f} s "
            f"(CPU {min(result['cpu_seconds']):.2f} s) of {len(result['seconds'])}; input "
            f"{fmt_bytes(result['input_bytes'])}, peak RSS beyond it "
            f"{fmt_bytes(result['peak_growth'])}"
        )


def startup_times(work: Path) -> dict[str, float]:
    """Warm each tool's code with one ``--version``, then the median of 3 more."""
    home = work / "startup"
    home.mkdir()
    out: dict[str, float] = {}
    for tool, command, env in (
        ("loopml", [str(LOOPML), "--version"], loopml_env(home, "DVC_")),
        ("dvc", [str(DVC), "--version"], dvc_env(work)),
    ):
        times = warm_timings(command, cwd=home, env=env, reps=3)
        out[tool] = statistics.median(times)
    return out


def parent_main(args: argparse.Namespace) -> int:
    console = report_console(220)
    sizes = dict(QUICK if args.quick else FULL)
    if args.max_wait is not None:
        sizes["max_wait"] = args.max_wait
    if not LOOPML.exists():
        raise BenchmarkError(f"no loopml command at {LOOPML}: run this with loopml's venv")
    for tool in ("md5sum", "git", "du"):
        if shutil.which(tool) is None:
            raise BenchmarkError(f"this benchmark needs '{tool}' on PATH")
    dvc_version = ensure_peer_dvc()

    tmp_root = Path(args.tmp) if args.tmp else Path(tempfile.gettempdir())
    needed = 7 * sizes["big_bytes"] + 6 * sizes["files"] * sizes["max_file"]
    free = shutil.disk_usage(tmp_root).free
    if free < needed:
        raise BenchmarkError(
            f"{tmp_root} has {fmt_bytes(free)} free, the run needs about {fmt_bytes(needed)}"
            " (choose another place with --tmp)"
        )
    load_at_start = os.getloadavg()
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="loopml-bench-data-", dir=tmp_root) as tmp,
        progress_display(console) as progress,
    ):
        work = Path(tmp)
        (work / "logs").mkdir()
        bench = Bench(sizes, work, progress, console)
        bench.raw["startup"] = startup_times(work)
        bench.run_big()
        bench.run_folder()
        bench.run_profile()
        bench.raw["load_waits"] = bench.load_waits
        raw, problems = bench.raw, bench.problems

    rows = judge(raw, sizes)
    mode = "quick smoke run" if args.quick else "full run"
    title = f"loopml {loopml_version()} vs DVC {dvc_version}, data versioning ({mode})"
    console.print()
    print_table(rows, console, title, dvc_version)
    print_notes(raw, sizes, console)
    load_at_end = os.getloadavg()
    console.print(
        f"  machine: {os.cpu_count()} CPUs, 1-minute load average {load_at_start[0]:.2f} at "
        f"the start, {load_at_end[0]:.2f} at the end; the run took "
        f"{(time.perf_counter() - started) / 60:.1f} min"
    )

    missed = [f"{row['case']} ({row['size']})" for row in rows if row["passed"] is False]
    report = {
        "mode": "quick" if args.quick else "full",
        "sizes": sizes,
        "targets": TARGETS,
        **provenance(),
        "dvc_version": dvc_version,
        "page_cache": "warm: sync, then the case's input read once before every timed case",
        "load_average": {"start": load_at_start, "end": load_at_end},
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "table": rows,
        "missed_targets": missed,
        "problems": problems,
        "raw": raw,
    }
    return finish(report, "data", console)


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(
        __doc__,
        list(WORKERS),
        quick_help="small sizes, for a smoke run",
        default_wait="default 300, 60 with --quick",
    )
    parser.add_argument("--tmp", help="folder for the scratch data (default: the system's)")
    return dispatch(parser.parse_args(argv), worker_main, parent_main)


if __name__ == "__main__":
    sys.exit(main())
