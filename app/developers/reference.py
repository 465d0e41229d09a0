"""The OpenAPI document turned into rows a page template can lay out: operations by tag, and each
component schema's properties. Read-only views of the document; nothing is added to it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

METHODS = ("get", "post", "put", "patch", "delete")
REF_PREFIX = "#/components/schemas/"


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str
    required: bool
    type: str
    description: str


@dataclass(frozen=True)
class Answer:
    status: str
    description: str
    media_type: str
    schema: str
    headers: list[str]


@dataclass(frozen=True)
class Operation:
    anchor: str
    method: str
    path: str
    summary: str
    description: str
    security: list[str]
    parameters: list[Parameter]
    body: list[Answer] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)


def operations_by_tag(spec: dict[str, Any]) -> list[tuple[dict[str, Any], list[Operation]]]:
    """(tag, its operations) in the document's tag order, each operation in path order."""
    groups: dict[str, list[Operation]] = {tag["name"]: [] for tag in spec.get("tags", [])}
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                op = item[method]
                groups.setdefault((op.get("tags") or ["Other"])[0], []).append(_operation(path, method, op))
    tags = {tag["name"]: tag for tag in spec.get("tags", [])}
    return [(tags.get(name, {"name": name}), ops) for name, ops in groups.items() if ops]


def schema_rows(spec: dict[str, Any]) -> list[tuple[str, list[Parameter]]]:
    """Each component schema's name and properties (name, type, required, description)."""
    rows = []
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        required = set(schema.get("required", []))
        properties = [
            Parameter(prop, "", prop in required, type_name(value), value.get("description", ""))
            for prop, value in schema.get("properties", {}).items()
        ]
        rows.append((name, properties))
    return rows


def type_name(schema: dict[str, Any]) -> str:
    """A short human name for a JSON schema: `string`, `integer or null`, `array of ConsentOut`."""
    if "$ref" in schema:
        return schema["$ref"].removeprefix(REF_PREFIX)
    kind = schema.get("type", "any")
    kinds = kind if isinstance(kind, list) else [kind]
    words = []
    for one in kinds:
        if one == "array":
            words.append(f"array of {type_name(schema.get('items', {}))}")
        else:
            words.append(str(one))
    text = " or ".join(words)
    if "enum" in schema:
        text += " (" + ", ".join(str(value) for value in schema["enum"]) + ")"
    elif "format" in schema:
        text += f" ({schema['format']})"
    return text


def _operation(path: str, method: str, op: dict[str, Any]) -> Operation:
    parameters = [
        Parameter(
            p["name"],
            p["in"],
            bool(p.get("required")),
            type_name(p.get("schema", {})),
            p.get("description", ""),
        )
        for p in op.get("parameters", [])
    ]
    body = _answers({"request": op["requestBody"]}) if "requestBody" in op else []
    security = [name for requirement in op.get("security", []) for name in requirement]
    anchor = re.sub(r"[^a-z0-9]+", "-", f"{method}-{path}".lower())
    return Operation(
        anchor=anchor.strip("-"),
        method=method.upper(),
        path=path,
        summary=op.get("summary", ""),
        description=op.get("description", ""),
        security=security,
        parameters=parameters,
        body=body,
        answers=_answers(op.get("responses", {})),
    )


def _answers(responses: dict[str, Any]) -> list[Answer]:
    answers = []
    for status, response in responses.items():
        content = response.get("content") or {"": {}}
        for media_type, media in content.items():
            answers.append(
                Answer(
                    status=status,
                    description=response.get("description", ""),
                    media_type=media_type,
                    schema=type_name(media.get("schema", {})) if media_type else "",
                    headers=list(response.get("headers", {})),
                )
            )
    return answers
