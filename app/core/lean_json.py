"""A lean read's JSON (issue 28): the response model's bytes without validating each response.

A 50-item list page spent 280-330 µs of its CPU in the response model's validation before its
serialization (issue 28's profile), most of it the fields' Python validators and constraints: a
TypedDict of the same fields with the same constraints costs as much as the model. A lean read
builds its fields from one statement's rows, whose columns have the model's types already;
`JsonShape(Model)` serializes such fields with a serializer of the model's shape instead: a
TypedDict per model, of the same fields and the same types (its enumerations as their text, as
the rows hold them), without the constraints. The fields must be given in the model's order (the
JSON follows the dict's). The bytes are the model's (tests/unit/core/test_lean_json.py and the
routes' tests); the route keeps its `response_model`, so the contract is unchanged, and returns
the bytes as its `Response`, which FastAPI sends as is.

What stays checked: each value's type, as it is serialized (a value of another type, e.g. a
number where the shape says text, raises instead of being written: a 500, never other bytes).
What is no longer checked per response: the constraints (lengths, bounds, patterns), which the
database's columns and the rules that wrote the rows hold.
"""

from __future__ import annotations

import types
from enum import Enum
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import Response
from pydantic import BaseModel, TypeAdapter
from typing_extensions import TypedDict


def _shape(annotation: Any) -> Any:
    """The serialization type of a field's annotation: nested models as their TypedDicts,
    enumerations as text, constraints (`Annotated`) dropped."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _shape(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return Union[tuple(_shape(arg) for arg in get_args(annotation))]  # noqa: UP007
    if origin is list:
        return list[_shape(get_args(annotation)[0])]  # type: ignore[misc]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _typed_dict(annotation)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return str
    return annotation


def _typed_dict(model: type[BaseModel]) -> Any:
    fields = {name: _shape(field.annotation) for name, field in model.model_fields.items()}
    return TypedDict(f"{model.__name__}Shape", fields)  # type: ignore[operator]


class JsonShape:
    """The JSON of `model`'s fields given as a dict (in the model's field order), as
    `model.model_validate(fields).model_dump_json()` would write it, without the validation."""

    def __init__(self, model: type[BaseModel]) -> None:
        self._adapter: TypeAdapter[Any] = TypeAdapter(_typed_dict(model))

    def dump(self, fields: dict[str, Any]) -> bytes:
        # warnings="error": a value of another type than the shape's raises, never falls back
        return self._adapter.dump_json(fields, warnings="error")

    def response(self, fields: dict[str, Any]) -> Response:
        """The route's answer as FastAPI writes a response model's (200, application/json)."""
        return Response(self.dump(fields), media_type="application/json")
