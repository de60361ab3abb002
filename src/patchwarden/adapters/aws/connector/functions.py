"""Lambda functions: runtime, package type, last change, architectures.

Calls: lambda ListFunctions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from patchwarden.adapters.aws.connector.common import Resource, iso, pages, resource
from patchwarden.core.rules.resources import LAMBDA_FUNCTION


def import_lambda(clients: Any, now: datetime) -> list[Resource]:
    """The region's functions (``AWS::Lambda::Function``); tags are not read (ListFunctions
    does not carry them)."""
    out = []
    for function in pages(clients("lambda"), "lambda", "list_functions", "Functions"):
        attributes = {
            "runtime": function.get("Runtime"),
            "package_type": function.get("PackageType") or "Zip",
            "last_modified": iso(function.get("LastModified")),
            "architectures": list(function.get("Architectures") or ["x86_64"]),
        }
        arn = str(function["FunctionArn"])
        out.append(
            resource(arn, LAMBDA_FUNCTION, str(function.get("FunctionName", arn)), {}, attributes)
        )
    return out
