"""TintriError responses: every error body carries typeId, code, message, causeDetails and title."""

from __future__ import annotations

ERROR_TYPE_ID = "com.tintri.api.rest.v310.dto.domain.beans.TintriError"

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Resource not found",
    405: "Method not allowed",
    409: "Conflict",
    500: "Internal server error",
    501: "Not implemented",
    503: "Service unavailable",
}


class ApiError(Exception):
    """Raised by handlers; the server turns it into an HTTP status plus a TintriError body."""

    def __init__(self, status: int, code: str, message: str, cause: str = "", title: str | None = None):
        super().__init__(f"{status} {code} {message} {cause}")
        self.status = status
        self.code = code
        self.message = message
        self.cause = cause or ""
        self.title = title

    def body(self) -> dict:
        return error_body(self.code, self.message, self.cause, self.title or TITLES.get(self.status, "Error"))


def error_body(code: str, message: str, cause: str = "", title: str = "Error") -> dict:
    return {
        "typeId": ERROR_TYPE_ID,
        "code": code,
        "message": message,
        "causeDetails": cause or "",
        "title": title,
    }


def not_found(kind: str, ident: str) -> ApiError:
    return ApiError(
        404, "ERR-API-8001",
        f"Failed to find requested resource of type {kind} with id: '{ident}'",
        "", "Resource not found",
    )


def invalid_input(cause: str) -> ApiError:
    return ApiError(400, "ERR-API-0020", "Invalid input data", cause)


def session_invalid(cause: str = "") -> ApiError:
    return ApiError(
        401, "ERR-API-0104",
        "Invalid or expired session. Please login again.",
        cause, "Unauthorized",
    )
