"""The v2 (Open Inference Protocol) REST wire format, read strictly and written fast, for both servers.

KServe 0.21's own v2 route validates a JSON body through pydantic models on the way in and again on the
way out, reads a body without a ``Content-Type`` header as binary tensors (a stock ``tritonclient`` JSON
request is refused), and turns a shape its data cannot fill, a shape of 10¹² rows or a
``binary_data_size`` past the end of the body into a 500. `decode_request` checks every field a client
sends and raises `kserve.errors.InvalidInput` (HTTP 400, naming the field) for anything malformed, then
hands KServe's own `InferRequest` to its data plane; `encode_response` writes KServe's `InferResponse`
with orjson (NumPy arrays as they are) or, when the client asked for binary outputs, through KServe's
own ``to_rest``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import orjson
from kserve.constants.constants import INFERENCE_CONTENT_LENGTH_HEADER
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import (
    InferInput,
    InferRequest,
    InferResponse,
    RequestedOutput,
    deserialize_bytes_tensor,
)
from kserve.utils.numpy_codec import to_np_dtype

MAX_ELEMENTS = 50_000_000  # values in one tensor (400 MB of FP64): a larger shape is refused, not allocated
JSON_CONTENT_TYPE = "application/json"
BINARY_CONTENT_TYPE = "application/octet-stream"
NUMPY = orjson.OPT_SERIALIZE_NUMPY


def decode_request(body: bytes, headers: Mapping[str, str], model_name: str) -> InferRequest:
    """A v2 REST request body as KServe's `InferRequest`, every field checked.

    The body is JSON unless an ``Inference-Header-Content-Length`` header says where its JSON part
    ends and binary tensors begin; a missing ``Content-Type`` means JSON, as ``tritonclient`` sends it.

    Args:
        body: The raw request body.
        headers: The request headers, names in lower case (as Starlette gives them).
        model_name: The model on the request path.

    Raises:
        InvalidInput: The body, a header, an input or a requested output is malformed (HTTP 400).

    Example:
        >>> request = decode_request(
        ...     b'{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1, 2]}]}', {}, "m")
        >>> request.inputs[0].as_numpy()
        array([[1., 2.]])
        >>> decode_request(
        ...     b'{"inputs": [{"name": "x", "shape": [2], "datatype": "FP64", "data": [1]}]}', {}, "m")
        Traceback (most recent call last):
        ...
        kserve.errors.InvalidInput: input "x": 1 values do not fill the shape [2] (2 values)
    """
    json_length = headers.get(INFERENCE_CONTENT_LENGTH_HEADER)
    if json_length is None:
        header, binary = body, b""
    else:
        end = _json_length(json_length, len(body))
        header, binary = body[:end], body[end:]
    try:
        document = orjson.loads(header)
    except orjson.JSONDecodeError as e:
        raise InvalidInput(f"the v2 request is not valid JSON: {e}") from e
    if not isinstance(document, dict):
        raise InvalidInput('a v2 request is a JSON object {"inputs": [...]}')
    request_id = document.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidInput(f'"id" must be a string, got {request_id!r}')
    parameters = _parameters(document.get("parameters"), "the request")
    raw_inputs = document.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise InvalidInput('a v2 request needs "inputs": a non-empty list of tensors')
    inputs, offset = [], 0
    for raw in raw_inputs:
        tensor, offset = _input(raw, binary, offset)
        inputs.append(tensor)
    if offset != len(binary):
        raise InvalidInput(f"the body holds {len(binary) - offset} bytes after the last binary input")
    return InferRequest(
        model_name=model_name,
        infer_inputs=inputs,
        request_id=request_id,
        parameters=parameters,
        request_outputs=_requested_outputs(document.get("outputs")),
    )


def encode_response(response: InferResponse) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a v2 reply: JSON with orjson, or KServe's binary form when asked for.

    Example:
        >>> from kserve.protocol.infer_type import InferOutput
        >>> out = InferOutput("y", [2], "FP64", data=np.array([0.5, 1.0]))
        >>> encode_response(InferResponse("r1", "m", [out], model_version="3"))[0]
        b'{"id":"r1","model_name":"m","model_version":"3","outputs":[{"name":"y","shape":[2],"datatype":"FP64","data":[0.5,1.0]}]}'
    """
    binary = response._use_binary_outputs or any(
        output.binary_data for output in response._requested_outputs or []
    )
    if binary:
        content, json_length = response.to_rest()
        if json_length is None:
            return orjson.dumps(content, option=NUMPY), {"content-type": JSON_CONTENT_TYPE}
        return content, {
            "content-type": BINARY_CONTENT_TYPE,
            INFERENCE_CONTENT_LENGTH_HEADER: str(json_length),
        }
    document = {
        "id": response.id,
        "model_name": response.model_name,
        "model_version": response.model_version,
        "outputs": [_output(output) for output in _selected_outputs(response)],
    }
    if response.parameters:
        document["parameters"] = dict(response.parameters)
    return orjson.dumps(document, option=NUMPY), {"content-type": JSON_CONTENT_TYPE}


def _json_length(value: str, body_length: int) -> int:
    try:
        length = int(value)
    except ValueError:
        length = -1
    if not 0 <= length <= body_length:
        raise InvalidInput(
            f"the {INFERENCE_CONTENT_LENGTH_HEADER} header must be the length of the JSON part, from 0 to "
            f"the body's {body_length} bytes; got {value!r}"
        )
    return length


def _parameters(value: object, where: str) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput(f'"parameters" of {where} must be an object, got {type(value).__name__}')
    return value


def _input(raw: object, binary: bytes, offset: int) -> tuple[InferInput, int]:
    """One checked input tensor, its data as a NumPy array of its shape; the next binary offset."""
    if not isinstance(raw, dict):
        raise InvalidInput('each of "inputs" must be an object with name, shape, datatype and data')
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInput(f'each input needs a "name" string, got {name!r}')
    where = f'input "{name}"'
    datatype = raw.get("datatype")
    dtype = to_np_dtype(datatype.upper()) if isinstance(datatype, str) else None
    if dtype is None:
        raise InvalidInput(f"{where}: unknown datatype {datatype!r}")
    datatype = datatype.upper()
    shape = _shape(raw.get("shape"), where)
    size = math.prod(shape)
    parameters = _parameters(raw.get("parameters"), where) or {}
    if "data" in raw:
        if datatype == "FP16":
            raise InvalidInput(f"{where}: FP16 data cannot be sent as JSON; send it as binary data")
        array = _json_array(raw["data"], dtype, where)
    elif "binary_data_size" in parameters:
        array, offset = _binary_array(parameters["binary_data_size"], binary, offset, datatype, dtype, where)
    else:
        raise InvalidInput(f'{where} has neither "data" nor a "binary_data_size" parameter')
    if array.size != size:
        raise InvalidInput(f"{where}: {array.size} values do not fill the shape {shape} ({size} values)")
    return InferInput(name, shape, datatype, data=array.reshape(shape), parameters=parameters), offset


def _shape(shape: object, where: str) -> list[int]:
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
        raise InvalidInput(f'{where}: "shape" must be a list of integers, got {shape!r}')
    if any(d < 0 for d in shape):
        raise InvalidInput(f"{where}: a shape cannot have negative dimensions, got {shape}")
    if math.prod(shape) > MAX_ELEMENTS:
        raise InvalidInput(f"{where}: the shape {shape} holds more than {MAX_ELEMENTS:,} values")
    return shape


def _json_array(data: object, dtype: type, where: str) -> np.ndarray:
    """JSON data as an array of `dtype`: numbers for a numeric type, strings for BYTES, nothing ragged."""
    if not isinstance(data, list):
        raise InvalidInput(f'{where}: "data" must be a list, got {type(data).__name__}')
    try:
        array = np.asarray(data)
    except (TypeError, ValueError, OverflowError) as e:  # ragged nesting, integers past 64 bits
        raise InvalidInput(f"{where}: the data are not a regular array of values: {e}") from e
    textual = array.dtype.kind in "USO"
    if dtype is np.object_:
        if array.size and array.dtype.kind != "U":
            raise InvalidInput(f"{where}: BYTES data must be strings")
        return array.astype(object)
    if textual and array.size:
        raise InvalidInput(f"{where}: {np.dtype(dtype).name} data must be numbers, not strings or objects")
    try:
        return array.astype(dtype, copy=False)
    except (TypeError, ValueError, OverflowError) as e:
        raise InvalidInput(f"{where}: the data are not {np.dtype(dtype).name} values: {e}") from e


def _binary_array(
    size: object, binary: bytes, offset: int, datatype: str, dtype: type, where: str
) -> tuple[np.ndarray, int]:
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidInput(f"{where}: binary_data_size must be a non-negative integer, got {size!r}")
    end = offset + size
    if end > len(binary):
        raise InvalidInput(
            f"{where}: binary_data_size {size} runs past the end of the body "
            f"({len(binary) - offset} bytes left after the JSON part)"
        )
    chunk = binary[offset:end]
    if datatype == "BYTES":
        try:
            return deserialize_bytes_tensor(chunk), end
        except Exception as e:  # struct.error or IndexError from a truncated length prefix
            raise InvalidInput(f"{where}: the binary BYTES data are malformed: {e}") from e
    itemsize = np.dtype(dtype).itemsize
    if size % itemsize:
        raise InvalidInput(f"{where}: {size} bytes are not a whole number of {datatype} values")
    return np.frombuffer(chunk, dtype=dtype), end


def _requested_outputs(outputs: object) -> list[RequestedOutput] | None:
    if outputs is None:
        return None
    if not isinstance(outputs, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs
    ):
        raise InvalidInput('"outputs" must be a list of objects with a "name"')
    return [
        RequestedOutput(o["name"], _parameters(o.get("parameters"), f'output "{o["name"]}"')) for o in outputs
    ]


def _selected_outputs(response: InferResponse) -> list:
    requested = response._requested_outputs
    if not requested:
        return response.outputs
    selected = []
    for output in requested:
        found = response.get_output_by_name(output.name)
        if found is None:
            raise InvalidInput(f"unknown output '{output.name}' for model '{response.model_name}'")
        selected.append(found)
    return selected


def _output(output) -> dict:
    data = output.data
    if isinstance(data, np.ndarray) and data.dtype == object:
        data = data.tolist()
    elif isinstance(data, np.ndarray) and not data.flags.c_contiguous:
        data = np.ascontiguousarray(data)
    document = {"name": output.name, "shape": list(output.shape), "datatype": output.datatype, "data": data}
    if output.parameters:
        document["parameters"] = dict(output.parameters)
    return document
