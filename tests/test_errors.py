from __future__ import annotations

import inspect

import pytest

from loopml import errors


def _error_classes() -> list[type[errors.LoopmlError]]:
    return [
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, errors.LoopmlError)
    ]


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda cls: cls.__name__)
def test_every_error_knows_its_http_status_exit_code_and_code(cls) -> None:
    assert 400 <= cls.http_status < 600
    assert 1 <= cls.exit_code <= 125
    assert cls.code and cls.code.islower()


def test_user_errors_are_4xx_and_store_errors_5xx() -> None:
    assert errors.InvalidInput.http_status == 400
    assert errors.NotFound.http_status == 404
    assert errors.Conflict.http_status == errors.AlreadyExists.http_status == 409
    assert errors.StoreError.http_status == 503


def test_the_json_shape_is_one_and_the_same() -> None:
    error = errors.NotFound("run 'ab12' not found", hint="loopml runs ls", run_id="ab12")
    assert error.to_dict() == {
        "error": {
            "code": "not_found",
            "message": "run 'ab12' not found",
            "hint": "loopml runs ls",
            "details": {"run_id": "ab12"},
        }
    }
    assert str(error) == "run 'ab12' not found (loopml runs ls)"


def test_filter_errors_show_the_column_on_one_line() -> None:
    error = errors.FilterSyntaxError("unexpected 'and'", text="metrics.auc > and x", column=15)
    assert error.column == 15
    assert "\n" not in str(error)
    assert str(error).endswith("at column 15: 'metrics.auc > ⟶and x'")
    assert error.to_dict()["error"]["details"]["column"] == 15
