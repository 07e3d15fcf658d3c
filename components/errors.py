"""Errors that name the file, line or item they are about."""
from pathlib import Path
from typing import Optional, Union


class LoopError(Exception):
    """Base class for the package's user-facing errors."""


class InputError(LoopError, ValueError):
    """Bad input data; ``location`` says where (``file:line`` or an item id)."""

    def __init__(self, message: str, path: Optional[Union[str, Path]] = None, line: Optional[int] = None) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.message = message
        super().__init__(self.__str__())

    @property
    def location(self) -> str:
        """``file:line``, ``file`` or an empty string."""
        if self.path is None:
            return ""
        return f"{self.path}:{self.line}" if self.line is not None else self.path

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class ConllError(InputError):
    """A CoNLL file the reader refuses (strict policy, or nothing to repair)."""


class TaskFormatError(InputError):
    """A Prodigy-style JSONL task that cannot be turned into a Doc."""


class RunStateError(LoopError):
    """A run folder whose saved state does not match the requested run."""


class ReviewPending(LoopError):
    """A round whose review tasks are not all answered, in a run that waits for them: review, then rerun."""
