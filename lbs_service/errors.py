"""Domain errors; the HTTP layer maps each class to one status code (problems.py)."""


class DomainError(Exception):
    title = "Error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    title = "Not found"


class Conflict(DomainError):
    title = "Conflict"


class InvalidInput(DomainError):
    title = "Invalid input"


class Forbidden(DomainError):
    title = "Forbidden"


class Unauthorized(DomainError):
    title = "Unauthorized"
