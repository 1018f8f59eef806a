"""The base every Linktor model and enum shares.

Models accept both the camelCase wire name (the alias) and the snake_case field name, ignore
unknown keys and dump camelCase with ``model_dump(by_alias=True)``, as the official models do.
Their validators are built on first use (``defer_build``), so importing a types module costs only
the class definitions; the first validation of each model pays for its schema once.
"""

from __future__ import annotations

from enum import Enum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

__all__ = ["LinktorModel", "StrEnum"]


class StrEnum(str, Enum):
    """A ``str`` enum whose ``str()`` and ``format()`` give the value.

    The official enums are plain ``(str, Enum)``, which on Python 3.11+ print as
    ``ConversationStatus.OPEN`` and leaked that text into query strings. Members still compare
    equal to, hash like and serialize as their value.
    """

    def __str__(self) -> str:
        return str.__str__(self)

    def __format__(self, format_spec: str) -> str:
        return str.__format__(str.__str__(self), format_spec)


class LinktorModel(BaseModel):
    """Base of the Linktor models: pydantic v2, populate by alias or by name, extras ignored.

    A model a client call returned carries the server's ``X-Request-ID`` as ``_request_id``
    (None for models built otherwise). It is not a field: not validated, dumped or compared.
    """

    model_config = ConfigDict(populate_by_name=True, defer_build=True)
    _request_id: ClassVar[str | None] = None
