"""The result of a bulk action (imports, bulk updates): counts and the first errors, each naming
its row and the identifier of the thing it was about (source_id, code ...)."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.models import AsyncAction

MAX_REPORTED_ERRORS = 1000


@dataclass
class Tally:
    identifier: str = "source_id"  # the key naming the row's object in each error
    done_count: int = 0
    failed_count: int = 0
    errors: list = field(default_factory=list)

    def fail(self, row: int, identifier, message: str) -> None:
        self.failed_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"row": row, self.identifier: identifier, "message": message})

    def result(self) -> dict:
        result = {"done_count": self.done_count, "failed_count": self.failed_count, "errors": list(self.errors)}
        if self.failed_count > len(self.errors):
            result["errors_truncated"] = True
        return result

    @classmethod
    def resumed(cls, action: AsyncAction, identifier: str = "source_id") -> Tally:
        """The tally an interrupted action had saved, so a rerun continues counting where it stopped."""
        saved = action.result or {}
        if not action.processed:
            return cls(identifier=identifier)
        return cls(identifier=identifier, done_count=saved.get("done_count", 0),
                   failed_count=saved.get("failed_count", 0), errors=list(saved.get("errors", [])))
