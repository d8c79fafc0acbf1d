"""CloudWatch over smithy-rpc-v2-cbor, bridged to the JSON 1.0 protocol that moto speaks.

Why: the Rust SDK (aws-sdk-cloudwatch 1.140) talks to CloudWatch only in rpc-v2-cbor
(``POST /service/GraniteServiceVersion20100801/operation/<Operation>``, CBOR bodies), which
moto answers with 404. moto does implement CloudWatch's JSON 1.0 protocol (``X-Amz-Target:
GraniteServiceVersion20100801.<Operation>``), so each CBOR request is re-encoded as JSON,
handed to moto in-process with the original Authorization header (which is how moto picks
the service), and the JSON answer is re-encoded as CBOR.

Requests need no model: CBOR timestamps (tag 1) become epoch seconds and byte strings become
base64, which is exactly how JSON 1.0 carries those types. Responses do need one, because
the Rust SDK's CBOR decoder is strictly typed (a double must be a CBOR float, a timestamp a
tag-1 value, an integer a CBOR integer) while JSON cannot say which is which. So the answer is
re-typed by walking the operation's output shape in botocore's CloudWatch model; members the
model does not know are dropped, as the SDK would ignore them anyway.

Errors keep moto's HTTP status and become ``{"__type": <code>, "message": ...}``. CloudWatch is
awsQueryCompatible, so moto's ``x-amzn-query-error: <code>;<Sender|Receiver>`` header is passed
on too: SDKs take the error code from it.
"""

import base64
import datetime
import gzip
import io
import json
import re
from collections.abc import Callable
from functools import cache
from typing import Any

import botocore.session
import cbor2

PATH = re.compile(r"^/service/(?P<target>[^/]+)/operation/(?P<operation>[^/]+)$")

# The rpc-v2-cbor path names a service by its Smithy target prefix; botocore names it otherwise.
BRIDGED_SERVICES = {"GraniteServiceVersion20100801": "cloudwatch"}

Response = tuple[int, list[tuple[str, str]], bytes]
Forward = Callable[[dict[str, Any]], Response]


def handle(forward: Forward, environ: dict[str, Any], body: bytes) -> Response:
    """Answer one rpc-v2-cbor request, using ``forward`` to run a WSGI environ through moto."""
    match = PATH.match(environ.get("PATH_INFO", ""))
    target, operation = match["target"], match["operation"]
    service = BRIDGED_SERVICES.get(target)
    if service is None or operation not in _service_model(service).operation_names:
        return error(404, "UnknownOperationException", f"{target}.{operation} is not bridged from rpc-v2-cbor")
    try:
        if environ.get("HTTP_CONTENT_ENCODING", "").lower() == "gzip":  # the SDKs compress PutMetricData
            body = gzip.decompress(body)
        request = cbor2.loads(body) if body else {}
    except (OSError, cbor2.CBORDecodeError) as exc:
        return error(400, "SerializationException", f"request body is not valid CBOR: {exc}")

    json_body = json.dumps(_to_json(request)).encode()
    inner = dict(environ)
    for key in ("HTTP_CONTENT_ENCODING", "HTTP_SMITHY_PROTOCOL", "HTTP_ACCEPT"):
        inner.pop(key, None)
    inner.update(
        {
            "PATH_INFO": "/",
            "RAW_URI": "/",
            "QUERY_STRING": "",
            "CONTENT_TYPE": "application/x-amz-json-1.0",
            "CONTENT_LENGTH": str(len(json_body)),
            "HTTP_X_AMZ_TARGET": f"{target}.{operation}",
            "wsgi.input": io.BytesIO(json_body),
        }
    )
    status, headers, out = forward(inner)
    passed_on = [(k, v) for k, v in headers if k.lower() in ("x-amzn-requestid", "x-amzn-query-error")]
    document = _json_or_none(out)

    if status >= 300:
        fields = document if isinstance(document, dict) else {}
        # JSON 1.0 codes may carry a namespace ("Prefix#Code") and a suffix (":http://...").
        code = fields.get("__type", "").split(":", 1)[0].rsplit("#", 1)[-1]
        message = fields.get("message") or fields.get("Message") or out.decode(errors="replace")
        return error(status, code or ("InternalFailure" if status >= 500 else "UnknownError"), message, passed_on)

    output_shape = _service_model(service).operation_model(operation).output_shape
    payload = b"" if output_shape is None else cbor2.dumps(_typed(output_shape, document or {}), datetime_as_timestamp=True)
    return status, [*_CBOR_HEADERS, *passed_on], payload


def error(
    status: int, code: str, message: str, extra_headers: list[tuple[str, str]] | None = None
) -> Response:
    """An rpc-v2-cbor error response."""
    headers = [*_CBOR_HEADERS, *(extra_headers or [])]
    if not any(k.lower() == "x-amzn-query-error" for k, _ in headers):
        headers.append(("x-amzn-query-error", f"{code};{'Receiver' if status >= 500 else 'Sender'}"))
    return status, headers, cbor2.dumps({"__type": code, "message": message})


_CBOR_HEADERS = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]


@cache
def _service_model(name: str) -> Any:
    return botocore.session.get_session().get_service_model(name)


def _to_json(value: Any) -> Any:
    """A decoded CBOR request as JSON 1.0 would carry it."""
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _typed(shape: Any, value: Any) -> Any:
    """``value`` (decoded JSON) with the Python types that make CBOR match ``shape``."""
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure":
        typed = {name: _typed(member, value.get(name)) for name, member in shape.members.items()}
        return {name: v for name, v in typed.items() if v is not None}
    if kind == "list":
        return [_typed(shape.member, v) for v in value]
    if kind == "map":
        return {k: _typed(shape.value, v) for k, v in value.items()}
    if kind == "timestamp":
        if isinstance(value, (int, float)):
            return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if kind in ("double", "float"):
        return float(value)
    if kind in ("integer", "long", "short", "byte"):
        return int(value)
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if kind == "blob":
        return base64.b64decode(value)
    return value


def _json_or_none(data: bytes) -> Any:
    try:
        return json.loads(data) if data else None
    except ValueError:
        return None

