"""The classes a type annotation can hold: the pydantic models, dataclasses and enums in it."""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Annotated, Literal, get_args, get_origin, get_type_hints, is_typeddict

from pydantic import BaseModel


def reachable_classes(*roots: object) -> tuple[type, ...]:
    """Every model, dataclass and enum that a value of `roots` (TypedDicts, models, unions,
    containers of them) may contain, in a stable order."""
    found: dict[type, None] = {}
    for root in roots:
        _visit(root, found)
    return tuple(sorted(found, key=lambda cls: (cls.__module__, cls.__qualname__)))


def _visit(annotation: object, found: dict[type, None]) -> None:
    origin = get_origin(annotation)
    if origin is Literal:
        return
    if origin is Annotated:
        _visit(get_args(annotation)[0], found)
        return
    if origin is not None:  # list[X], dict[K, V], X | None, Sequence[X] ...
        for arg in get_args(annotation):
            _visit(arg, found)
        return
    if isinstance(annotation, type):
        _visit_class(annotation, found)


def _visit_class(cls: type, found: dict[type, None]) -> None:
    if cls in found:  # also what ends a model that refers to itself
        return
    if is_typeddict(cls):
        for hint in get_type_hints(cls, include_extras=True).values():
            _visit(hint, found)
    elif issubclass(cls, BaseModel):
        found[cls] = None
        for field in cls.model_fields.values():
            _visit(field.annotation, found)
    elif dataclasses.is_dataclass(cls):
        found[cls] = None
        for hint in get_type_hints(cls).values():
            _visit(hint, found)
    elif issubclass(cls, Enum):
        found[cls] = None
