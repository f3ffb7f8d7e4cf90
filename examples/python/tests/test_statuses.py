"""One exception class per status, checked against the loaded library's own status table
(iam_status_name): a status added to iam-ffi without its class here fails this test (and
iam-ffi's `python_exception_table_matches_the_statuses`)."""

import pickle

import pytest

import iam_ffi
from iam_ffi import DeniedError, IamError, STATUS_ERRORS, error_class

UNKNOWN = "IAM_STATUS_UNKNOWN"


def library_statuses():
    """Every status number the library names, with its C name (0 is success)."""
    lib = iam_ffi.library()
    names = {code: lib.iam_status_name(code).decode() for code in range(0, 1000)}
    return {code: name for code, name in names.items() if name != UNKNOWN and code != 0}


def camel(c_name):
    """IAM_STATUS_BAD_CREDENTIALS -> BadCredentials."""
    return "".join(w.capitalize() for w in c_name.removeprefix("IAM_STATUS_").split("_"))


def test_every_library_status_has_its_exception_class():
    statuses = library_statuses()
    assert len(statuses) >= 34, statuses
    assert iam_ffi.library().iam_status_name(0).decode() == "IAM_STATUS_OK"
    missing = {code: name for code, name in statuses.items() if code not in STATUS_ERRORS}
    assert not missing, f"statuses without an exception class in iam_ffi: {missing}"
    extra = set(STATUS_ERRORS) - set(statuses)
    assert not extra, f"exception classes for statuses the library does not have: {extra}"
    for code, name in statuses.items():
        cls = STATUS_ERRORS[code]
        assert cls.status == code
        assert cls.name == name, cls
        assert cls.__name__.endswith(camel(name) + "Error"), (cls, name)
        assert getattr(iam_ffi, cls.__name__) is cls
        assert cls.__name__ in iam_ffi.__all__
        assert cls.__module__ == "iam_ffi"
        assert cls.__doc__
        assert error_class(code) is cls


def test_refusals_are_denied_errors():
    # docs/ffi.md: 10-29 and 39-59 are refusals, everything else is not.
    for code, cls in STATUS_ERRORS.items():
        refusal = 10 <= code <= 29 or 39 <= code <= 59
        assert issubclass(cls, DeniedError) == refusal, cls
        assert issubclass(cls, IamError)
    assert error_class(12345) is IamError
    assert not issubclass(iam_ffi.IamClosedError, DeniedError)
    assert issubclass(iam_ffi.IamClosedError, ValueError)


def test_a_raised_error_carries_status_name_and_message(iam):
    with pytest.raises(iam_ffi.NotFoundError) as e:
        iam.find_account("nobody")
    assert e.value.status == 30 and e.value.name == "IAM_STATUS_NOT_FOUND"
    assert e.value.message and str(e.value) == e.value.message
    # Exceptions survive pickling (multiprocessing, task queues) as their own class.
    again = pickle.loads(pickle.dumps(e.value))
    assert type(again) is iam_ffi.NotFoundError and again.message == e.value.message

