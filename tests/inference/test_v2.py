"""The v2 wire format, read strictly: every malformed field is an InvalidInput naming it, nothing else."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferInput, InferOutput, InferRequest, InferResponse, RequestedOutput

from inference.v2 import MAX_ELEMENTS, decode_request, encode_response

HEADER = "inference-header-content-length"


def body(*inputs: dict, **fields) -> bytes:
    return json.dumps({"inputs": list(inputs), **fields}).encode()


def tensor(name="x", shape=(1, 2), datatype="FP64", **fields) -> dict:
    return {"name": name, "shape": list(shape), "datatype": datatype, **fields}


def test_json_without_headers_is_json():
    request = decode_request(body(tensor(data=[1, 2]), id="r1"), {}, "m")
    assert (request.id, request.model_name) == ("r1", "m")
    np.testing.assert_array_equal(request.inputs[0].as_numpy(), [[1.0, 2.0]])


def test_nested_json_data_are_read_row_major():
    request = decode_request(body(tensor(shape=(2, 2), data=[[1, 2], [3, 4]])), {}, "m")
    np.testing.assert_array_equal(request.inputs[0].as_numpy(), [[1, 2], [3, 4]])


def test_binary_tensors_after_the_json_part():
    rows = np.array([[1.5, 2.5], [3.5, 4.5]])
    client = InferInput("x", [2, 2], "FP64")
    client.set_data_from_numpy(rows, binary_data=True)
    content, json_length = InferRequest("m", [client], request_id="b").to_rest()
    request = decode_request(content, {HEADER: str(json_length)}, "m")
    np.testing.assert_array_equal(request.inputs[0].as_numpy(), rows)


def test_binary_strings():
    client = InferInput("v", [2], "BYTES")
    client.set_data_from_numpy(np.array([b"ab", b"c"], dtype=object), binary_data=True)
    content, json_length = InferRequest("m", [client]).to_rest()
    assert decode_request(content, {HEADER: str(json_length)}, "m").inputs[0].as_numpy().tolist() == [
        b"ab",
        b"c",
    ]


def test_requested_outputs_and_parameters_are_kept():
    request = decode_request(body(tensor(data=[1, 2]), outputs=[{"name": "y"}], parameters={"a": 1}), {}, "m")
    assert [o.name for o in request.request_outputs] == ["y"] and request.parameters == {"a": 1}


@pytest.mark.parametrize(
    ("content", "headers", "message"),
    [
        (b"{", {}, "not valid JSON"),
        (b"[]", {}, "a v2 request is a JSON object"),
        (body(), {}, "non-empty list of tensors"),
        (body(tensor(data=[1, 2]), id=5), {}, '"id" must be a string'),
        (body(tensor(data=[1, 2]), parameters=[1]), {}, '"parameters" of the request must be an object'),
        (body(["x"]), {}, "must be an object with name"),
        (body(tensor(name="", data=[1, 2])), {}, 'needs a "name"'),
        (body(tensor(datatype="FP99", data=[1, 2])), {}, "unknown datatype 'FP99'"),
        (body(tensor(datatype=7, data=[1, 2])), {}, "unknown datatype 7"),
        (body(tensor(shape=(1.0, 2), data=[1, 2])), {}, '"shape" must be a list of integers'),
        (body(tensor(shape=(True,), data=[1])), {}, '"shape" must be a list of integers'),
        (body(tensor(shape=(-1, 2), data=[1, 2])), {}, "negative dimensions"),
        (body(tensor(shape=(10**12, 6), data=[1])), {}, f"more than {MAX_ELEMENTS:,} values"),
        (body(tensor(data=[1])), {}, "1 values do not fill the shape [1, 2] (2 values)"),
        (body(tensor(data=[[1, 2], [3]])), {}, "not a regular array"),
        (body(tensor(data=["a", "b"])), {}, "must be numbers, not strings"),
        (body(tensor(data=[1, "2"])), {}, "must be numbers, not strings"),
        (body(tensor(data={"a": 1})), {}, '"data" must be a list'),
        (body(tensor(datatype="BYTES", shape=(2,), data=[1, 2])), {}, "BYTES data must be strings"),
        (body(tensor(datatype="FP16", data=[1, 2])), {}, "FP16 data cannot be sent as JSON"),
        (body(tensor()), {}, 'has neither "data" nor a "binary_data_size"'),
        (body(tensor(data=[1, 2]), outputs="y"), {}, '"outputs" must be a list'),
        (body(tensor(data=[1, 2])), {HEADER: "x"}, "must be the length of the JSON part"),
        (body(tensor(data=[1, 2])), {HEADER: "-1"}, "must be the length of the JSON part"),
        (body(tensor(data=[1, 2])), {HEADER: "100000"}, "must be the length of the JSON part"),
    ],
)
def test_malformed_requests(content, headers, message):
    with pytest.raises(InvalidInput) as error:
        decode_request(content, headers, "m")
    assert message in str(error.value)


def binary(parameters: dict, payload: bytes, shape=(1, 2), datatype="FP64") -> tuple[bytes, dict]:
    header = body(tensor(shape=shape, datatype=datatype, parameters=parameters))
    return header + payload, {HEADER: str(len(header))}


@pytest.mark.parametrize(
    ("parameters", "payload", "message"),
    [
        ({"binary_data_size": 4800}, b"\0" * 16, "runs past the end of the body"),
        ({"binary_data_size": -1}, b"", "binary_data_size must be a non-negative integer"),
        ({"binary_data_size": "16"}, b"\0" * 16, "binary_data_size must be a non-negative integer"),
        ({"binary_data_size": 12}, b"\0" * 12, "not a whole number of FP64 values"),
        ({"binary_data_size": 8}, b"\0" * 8, "1 values do not fill the shape"),
        ({"binary_data_size": 16}, b"\0" * 24, "8 bytes after the last binary input"),
    ],
)
def test_malformed_binary_tensors(parameters, payload, message):
    content, headers = binary(parameters, payload)
    with pytest.raises(InvalidInput, match=message):
        decode_request(content, headers, "m")


def test_truncated_binary_strings():
    content, headers = binary(
        {"binary_data_size": 6}, struct.pack("<I", 50) + b"ab", shape=(1,), datatype="BYTES"
    )
    with pytest.raises(InvalidInput, match="binary BYTES data are malformed"):
        decode_request(content, headers, "m")


def test_json_replies_carry_numpy_outputs_and_parameters():
    out = InferOutput("y", [2], "FP64", data=np.array([0.5, np.nan]))
    content, headers = encode_response(InferResponse("r", "m", [out], model_version="2", parameters={"k": 1}))
    assert headers == {"content-type": "application/json"}
    reply = json.loads(content)
    assert reply["outputs"][0]["data"] == [0.5, None] and reply["parameters"] == {"k": 1}


def test_only_the_requested_outputs_are_written():
    outputs = [
        InferOutput("a", [1], "FP64", data=np.array([1.0])),
        InferOutput("b", [1], "FP64", data=np.array([2.0])),
    ]
    response = InferResponse("r", "m", outputs, requested_outputs=[RequestedOutput("b")])
    assert [o["name"] for o in json.loads(encode_response(response)[0])["outputs"]] == ["b"]


def test_binary_replies_when_asked():
    out = InferOutput("y", [2], "FP64", data=np.array([0.5, 1.5]))
    content, headers = encode_response(InferResponse("r", "m", [out], use_binary_outputs=True))
    assert headers["content-type"] == "application/octet-stream"
    reply = InferResponse.from_bytes(content, int(headers[HEADER]))
    np.testing.assert_array_equal(reply.outputs[0].as_numpy(), [0.5, 1.5])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=16,
)
tensors = st.fixed_dictionaries(
    {
        "name": st.just("x") | json_values,
        "shape": st.lists(st.integers(-1, 5), max_size=3) | json_values,
        "datatype": st.sampled_from(["FP64", "INT32", "BYTES", "BOOL", "FP16", "UINT8"]) | json_values,
    },
    optional={
        "data": st.lists(st.integers() | st.floats() | st.text(max_size=2), max_size=12) | json_values,
        "parameters": st.fixed_dictionaries({"binary_data_size": st.integers(-2, 64) | json_values})
        | json_values,
    },
)


@settings(max_examples=500, deadline=None, database=None)
@given(
    document=st.fixed_dictionaries(
        {"inputs": st.lists(tensors, max_size=3)}, optional={"outputs": json_values}
    )
    | json_values,
    tail=st.binary(max_size=64),
    length=st.none() | st.integers(-3, 600) | st.text(max_size=3),
)
def test_any_body_is_a_request_or_a_clear_invalid_input(document, tail, length):
    content = json.dumps(document, allow_nan=True).encode() + tail
    headers = {} if length is None else {HEADER: str(length)}
    try:
        request = decode_request(content, headers, "m")
    except InvalidInput as e:
        assert str(e)
        return
    for item in request.inputs:
        assert list(item.as_numpy().shape) == item.shape  # a decoded tensor always fills its shape
