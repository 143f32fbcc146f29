"""``import loopml`` stays light: heavy libraries load on first use (timing is in benchmarks/)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import loopml


@pytest.mark.parametrize(
    "statement",
    ["import loopml", "import loopml; loopml.step; loopml.pipeline"],
    ids=["import", "defining steps"],
)
def test_import_loads_no_heavy_library(statement: str) -> None:
    code = (
        f"import sys; {statement}\n"
        "heavy = {'sqlalchemy', 'pandas', 'numpy', 'pyarrow', 'alembic', 'typer', 'lark'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_every_public_name_resolves() -> None:
    for name in loopml.__all__:
        assert getattr(loopml, name) is not None
    assert "start_run" in dir(loopml)


def test_unknown_names_raise_attribute_error() -> None:
    try:
        loopml.nothing_here  # noqa: B018
    except AttributeError as error:
        assert "nothing_here" in str(error)
    else:
        raise AssertionError("expected AttributeError")


def test_submodules_never_shadow_the_sdk_names() -> None:
    """Importing a submodule sets it as an attribute of its package: no SDK function of
    ``loopml.data`` may share a name with a module inside it."""
    import importlib
    import pkgutil
    import types

    import loopml.data

    for module in pkgutil.iter_modules(loopml.data.__path__):
        importlib.import_module(f"loopml.data.{module.name}")
    shadowed = [
        name
        for name in loopml.data.__all__
        if isinstance(getattr(loopml.data, name), types.ModuleType)
    ]
    assert shadowed == []
