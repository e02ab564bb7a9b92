"""Domain errors. The API and the console each translate them to their own surface."""


class DomainError(Exception):
    """Base class: a request the domain refuses, with a message fit to show the caller."""

    code: str = "invalid_request"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code


class InvalidInput(DomainError):
    """The input breaks a rule of the contract (a limit, a shape, a value)."""

    code = "invalid_value"


class NotFound(DomainError):
    """No such object in the caller's project (another project's objects are "not found" too)."""

    code = "not_found"


class Conflict(DomainError):
    """The change collides with what is stored (e.g. an imported id that is already taken)."""

    code = "conflict"
