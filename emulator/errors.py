"""The error tree: every API failure is an ApiError subclass carrying the vendor's code and msg.

    ApiError                 (code, msg, http_status; `detail` says which field or rule failed)
      +-- InternalError      1000  internal error     HTTP 500
      +-- LackParam          1001  lack param
      +-- BadParam           1002  bad param
      |     +-- NotFoundRoute        HTTP 404 (unknown path)
      |     +-- MethodNotAllowed     HTTP 405 (wrong method)
      +-- AuthFail           1003  auth fail
      |     +-- Forbidden            HTTP 403 (a foreign Host or a cross-site write: origins.py)
      +-- EmptyResult        1004  empty result
      +-- OperationFail      1005  operation fail
      +-- Duplicated         1006  duplicated entity

    TaskFailed(err_code, message)   a task ends in `fail` (SPEC.md section 5, codes 2001-2007)

Raise them anywhere below the routers; one exception handler builds the envelope.
"""

from __future__ import annotations

from typing import ClassVar


class ApiError(Exception):
    code: ClassVar[int] = 1000
    msg: ClassVar[str] = "internal error"
    http_status: ClassVar[int] = 200

    def __init__(self, detail: str, *, request_id: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.request_id = request_id  # set by the client from the response

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code}, detail={self.detail!r})"


class InternalError(ApiError):
    code = 1000
    msg = "internal error"
    http_status = 500


class LackParam(ApiError):
    code = 1001
    msg = "lack param"


class BadParam(ApiError):
    code = 1002
    msg = "bad param"


class NotFoundRoute(BadParam):
    http_status = 404


class MethodNotAllowed(BadParam):
    http_status = 405


class AuthFail(ApiError):
    code = 1003
    msg = "auth fail"


class Forbidden(AuthFail):
    # 1003, not 1002: nothing in the request is malformed, the sender is not one we serve.
    http_status = 403


class EmptyResult(ApiError):
    code = 1004
    msg = "empty result"


class OperationFail(ApiError):
    code = 1005
    msg = "operation fail"


class Duplicated(ApiError):
    code = 1006
    msg = "duplicated entity"


ERRORS_BY_CODE: dict[int, type[ApiError]] = {
    cls.code: cls
    for cls in (
        InternalError,
        LackParam,
        BadParam,
        AuthFail,
        EmptyResult,
        OperationFail,
        Duplicated,
    )
}

# Task failure codes (SPEC.md section 5); the README lists them.
INPUT_DOWNLOAD_FAILED = 2001
INPUT_NOT_VIDEO = 2002
TRANSCODE_FAILED = 2003
UPLOAD_FAILED = 2004
LOGO_FETCH_FAILED = 2005
TIME_LIMIT = 2006
NOT_EMULATED = 2007


class TaskFailed(Exception):
    """A task cannot finish: it ends in `fail` with this err_code and one-line message."""

    def __init__(self, err_code: int, message: str) -> None:
        super().__init__(message)
        self.err_code = err_code
        self.message = " ".join(message.split())  # one line, always

    def __repr__(self) -> str:
        return f"TaskFailed(err_code={self.err_code}, message={self.message!r})"


class TaskCancelled(Exception):
    """The task was deleted (del_task) while a worker was running it."""
