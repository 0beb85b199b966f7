"""The feed request: who asks (the viewer), how many investors, and the filters, read from v1 or v2.

v1 (``POST /v1/models/<name>:predict``) takes a JSON object, plain or wrapped as ``{"instances": [{...}]}``::

    {"viewer_id": "u-42", "top_k": 20, "sectors": ["Technology"], "max_risk": 0.35,
     "exclude_account_ids": ["acc-0007"]}

v2 (``POST /v2/models/<name>/infer``) takes the same fields as tensors named after them: ``viewer_id``
(BYTES [1]), ``top_k`` (an integer type, [1]), ``sectors`` and ``exclude_account_ids`` (BYTES [n]),
``max_risk`` (a float type, [1]). Every field is optional; anything else, or a value out of range, is an
`kserve.errors.InvalidInput` (HTTP 400) that says what was wrong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import orjson
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferRequest

MAX_TOP_K = 100
MAX_ID_LENGTH = 128
MAX_LIST = 10_000  # exclusions (the viewer's followed accounts, already seen) or sectors per request
FIELDS = ("viewer_id", "top_k", "sectors", "max_risk", "exclude_account_ids")
EXAMPLE = '{"viewer_id": "u-42", "top_k": 20, "max_risk": 0.35, "exclude_account_ids": []}'


@dataclass(frozen=True)
class FeedRequest:
    """One checked feed request.

    Attributes:
        viewer_id: Who asks; decides the A/B arm (None: anonymous, served the model's ranking).
        top_k: How many investors, 1 to `MAX_TOP_K`.
        sectors: Only investors whose main sector is one of these (empty: any).
        max_risk: Only investors whose 12-month volatility is at most this (annualised, 0.3 = 30%).
        exclude_account_ids: Accounts never shown (the viewer's followed accounts, say).
    """

    viewer_id: str | None
    top_k: int
    sectors: tuple[str, ...] = ()
    max_risk: float | None = None
    exclude_account_ids: tuple[str, ...] = ()


def parse_v1(payload: dict | bytes | str, *, default_top_k: int) -> FeedRequest:
    """A v1 body (a dict, or raw bytes as ``curl -d`` sends them) as a `FeedRequest`.

    Raises:
        InvalidInput: The body is not one JSON object of known fields with valid values.

    Example:
        >>> parse_v1({"instances": [{"top_k": 5, "viewer_id": "u-1"}]}, default_top_k=20)
        FeedRequest(viewer_id='u-1', top_k=5, sectors=(), max_risk=None, exclude_account_ids=())
        >>> parse_v1(b'{"top_k": 0}', default_top_k=20)
        Traceback (most recent call last):
        ...
        kserve.errors.InvalidInput: top_k must be an integer from 1 to 100, got 0
    """
    if isinstance(payload, bytes | str):
        try:
            payload = orjson.loads(payload or b"{}")
        except orjson.JSONDecodeError as e:
            raise InvalidInput(f"the feed request must be a JSON object: {e}") from e
    if isinstance(payload, dict) and "instances" in payload:
        if not (isinstance(payload["instances"], list) and len(payload["instances"]) == 1):
            raise InvalidInput('"instances" must hold exactly one feed request object')
        payload = payload["instances"][0]
    if not isinstance(payload, dict):
        raise InvalidInput(f"the feed request must be a JSON object like {EXAMPLE}")
    return checked(payload, default_top_k)


def parse_v2(request: InferRequest, *, default_top_k: int) -> FeedRequest:
    """A v2 request's tensors, one per field, as a `FeedRequest`.

    Raises:
        InvalidInput: An unknown input, a wrong datatype or shape, or a value out of range.
    """
    fields: dict[str, object] = {}
    for tensor in request.inputs:
        if tensor.name not in FIELDS:
            raise InvalidInput(
                f"unknown inputs ['{tensor.name}'] in the feed request; allowed: {list(FIELDS)}"
            )
        if tensor.name in fields:
            raise InvalidInput(f"the input {tensor.name} is given twice")
        values = tensor.as_numpy().reshape(-1).tolist()
        textual = tensor.datatype == "BYTES"
        values = [v.decode() if isinstance(v, bytes) else v for v in values] if textual else values
        if tensor.name in ("sectors", "exclude_account_ids"):
            fields[tensor.name] = values if textual else _wrong_type(tensor.name, "BYTES", tensor.datatype)
        elif len(values) != 1:
            raise InvalidInput(f"the input {tensor.name} must hold one value, got {len(values)}")
        else:
            fields[tensor.name] = _scalar(tensor.name, values[0], tensor.datatype)
    return checked(fields, default_top_k)


def checked(fields: dict, default_top_k: int) -> FeedRequest:
    """The request of `fields` (by name), each value checked.

    Raises:
        InvalidInput: An unknown field, or a value of the wrong type or out of range.
    """
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise InvalidInput(f"unknown keys {unknown} in the feed request; allowed: {sorted(FIELDS)}")
    viewer = fields.get("viewer_id")
    if viewer is not None and not (isinstance(viewer, str) and 0 < len(viewer) <= MAX_ID_LENGTH):
        raise InvalidInput(f"viewer_id must be a string of 1 to {MAX_ID_LENGTH} characters, got {viewer!r}")
    top_k = fields.get("top_k", default_top_k)
    if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= MAX_TOP_K:
        raise InvalidInput(f"top_k must be an integer from 1 to {MAX_TOP_K}, got {top_k!r}")
    max_risk = fields.get("max_risk")
    if max_risk is not None and (
        isinstance(max_risk, bool)
        or not isinstance(max_risk, int | float)
        or not math.isfinite(max_risk)
        or max_risk < 0
    ):
        raise InvalidInput(
            f"max_risk must be a non-negative number (a 12-month volatility), got {max_risk!r}"
        )
    return FeedRequest(
        viewer_id=viewer,
        top_k=top_k,
        sectors=_strings(fields.get("sectors", []), "sectors", "sector names"),
        max_risk=None if max_risk is None else float(max_risk),
        exclude_account_ids=_strings(
            fields.get("exclude_account_ids", []), "exclude_account_ids", "account ids"
        ),
    )


def _strings(values: object, name: str, what: str) -> tuple[str, ...]:
    if not isinstance(values, list) or not all(
        isinstance(v, str) and 0 < len(v) <= MAX_ID_LENGTH for v in values
    ):
        raise InvalidInput(f"{name} must be a list of {what} (strings of 1 to {MAX_ID_LENGTH} characters)")
    if len(values) > MAX_LIST:
        raise InvalidInput(f"{name} holds {len(values)} entries; at most {MAX_LIST}")
    return tuple(values)


def _scalar(name: str, value: object, datatype: str) -> object:
    expected = {"viewer_id": "BYTES", "top_k": "INT", "max_risk": "FP"}[name]
    if not datatype.startswith(expected) and not (name == "max_risk" and datatype.startswith("INT")):
        _wrong_type(name, expected, datatype)
    return value


def _wrong_type(name: str, expected: str, datatype: str):
    raise InvalidInput(f"the input {name} must be of datatype {expected}*, got {datatype}")
