"""A tiny JSON Schema checker: just the keywords ipvsctl's schema uses, nothing silently ignored.

Used so the schema's consistency with the loader is tested without a runtime or test dependency;
when `jsonschema` is importable, test_schema.py checks with it as well.
"""

from __future__ import annotations

import re
from typing import Any

ANNOTATIONS = {"description", "default", "title", "$schema", "format"}


def _type_ok(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "string":
        return isinstance(value, str)
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "null":
        return value is None
    raise ValueError(f"type {name!r} not supported by minischema")


def errors(schema: dict[str, Any], value: Any, where: str = "$") -> list[str]:
    """Every violation as 'where: keyword'; empty when the value is valid."""
    out: list[str] = []
    for keyword, arg in schema.items():
        if keyword in ANNOTATIONS:
            continue
        if keyword == "type":
            names = arg if isinstance(arg, list) else [arg]
            if not any(_type_ok(value, n) for n in names):
                return [f"{where}: type {arg}"]
        elif keyword == "enum":
            if value not in arg:
                out.append(f"{where}: enum")
        elif keyword == "const":
            if value != arg:
                out.append(f"{where}: const")
        elif keyword in ("minimum", "maximum"):
            if isinstance(value, int | float) and not isinstance(value, bool) and (
                    value < arg if keyword == "minimum" else value > arg):
                out.append(f"{where}: {keyword}")
        elif keyword == "pattern":
            if isinstance(value, str) and not re.search(arg, value):
                out.append(f"{where}: pattern")
        elif keyword == "required":
            if isinstance(value, dict):
                out += [f"{where}: required {k}" for k in arg if k not in value]
        elif keyword == "properties":
            if isinstance(value, dict):
                for key, sub in arg.items():
                    if key in value:
                        out += errors(sub, value[key], f"{where}.{key}")
        elif keyword == "additionalProperties":
            if isinstance(value, dict):
                known = schema.get("properties", {})
                for key, item in value.items():
                    if key in known:
                        continue
                    if arg is False:
                        out.append(f"{where}.{key}: additionalProperties")
                    elif isinstance(arg, dict):
                        out += errors(arg, item, f"{where}.{key}")
        elif keyword == "propertyNames":
            if isinstance(value, dict):
                for key in value:
                    out += errors(arg, key, f"{where}.{key} (name)")
        elif keyword == "items":
            if isinstance(value, list):
                for index, item in enumerate(value):
                    out += errors(arg, item, f"{where}[{index}]")
        elif keyword in ("minItems", "maxItems"):
            if isinstance(value, list) and (
                    len(value) < arg if keyword == "minItems" else len(value) > arg):
                out.append(f"{where}: {keyword}")
        elif keyword == "minLength":
            if isinstance(value, str) and len(value) < arg:
                out.append(f"{where}: minLength")
        elif keyword == "allOf":
            for sub in arg:
                out += errors(sub, value, where)
        elif keyword == "uniqueItems":
            if arg and isinstance(value, list) and len(set(map(repr, value))) != len(value):
                out.append(f"{where}: uniqueItems")
        elif keyword == "oneOf":
            passing = sum(1 for sub in arg if not errors(sub, value, where))
            if passing != 1:
                out.append(f"{where}: oneOf matched {passing}")
        elif keyword == "anyOf":
            if all(errors(sub, value, where) for sub in arg):
                out.append(f"{where}: anyOf")
        elif keyword == "not":
            if not errors(arg, value, where):
                out.append(f"{where}: not")
        elif keyword == "if":
            branch = "then" if not errors(arg, value, where) else "else"
            if branch in schema:
                out += errors(schema[branch], value, where)
        elif keyword in ("then", "else"):
            continue  # handled with "if"
        else:
            raise ValueError(f"keyword {keyword!r} not supported by minischema")
    return out
