"""The feed request schema: what a client may send, and one clear error for each thing it may get wrong."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferInput, InferRequest

from inference.feed_request import MAX_LIST, FeedRequest, parse_v1, parse_v2


def test_every_field_is_read():
    body = {
        "viewer_id": "u-1",
        "top_k": 7,
        "sectors": ["Energy"],
        "max_risk": 0.3,
        "exclude_account_ids": ["acc-1"],
    }
    assert parse_v1(body, default_top_k=20) == FeedRequest("u-1", 7, ("Energy",), 0.3, ("acc-1",))


def test_an_empty_request_is_the_default_feed():
    assert parse_v1({}, default_top_k=20) == FeedRequest(None, 20)
    assert parse_v1(b"", default_top_k=20) == FeedRequest(None, 20)


def test_a_request_wrapped_in_instances_is_accepted():
    assert parse_v1({"instances": [{"top_k": 5}]}, default_top_k=20).top_k == 5


def test_an_integer_max_risk_is_a_number():
    assert parse_v1({"max_risk": 1}, default_top_k=20).max_risk == 1.0


@pytest.mark.parametrize("top_k", [0, 101, "5", 2.5, True, None])
def test_bad_top_k(top_k):
    with pytest.raises(InvalidInput, match="top_k must be an integer from 1 to 100"):
        parse_v1({"top_k": top_k}, default_top_k=20)


@pytest.mark.parametrize("viewer", ["", "x" * 129, 42, ["u"]])
def test_bad_viewer_id(viewer):
    with pytest.raises(InvalidInput, match="viewer_id must be a string of 1 to 128 characters"):
        parse_v1({"viewer_id": viewer}, default_top_k=20)


@pytest.mark.parametrize("risk", [-0.1, "high", float("nan"), float("inf"), True])
def test_bad_max_risk(risk):
    with pytest.raises(InvalidInput, match="max_risk must be a non-negative number"):
        parse_v1({"max_risk": risk}, default_top_k=20)


@pytest.mark.parametrize("field", ["sectors", "exclude_account_ids"])
@pytest.mark.parametrize("value", ["acc-1", [1], [""], [None]])
def test_lists_of_strings(field, value):
    with pytest.raises(InvalidInput, match=f"{field} must be a list of"):
        parse_v1({field: value}, default_top_k=20)


def test_lists_are_bounded():
    with pytest.raises(InvalidInput, match=f"at most {MAX_LIST}"):
        parse_v1({"exclude_account_ids": ["a"] * (MAX_LIST + 1)}, default_top_k=20)


def test_unknown_keys():
    with pytest.raises(InvalidInput, match=r"unknown keys \['topk'\]"):
        parse_v1({"topk": 5}, default_top_k=20)


def test_more_than_one_wrapped_request():
    with pytest.raises(InvalidInput, match="exactly one feed request"):
        parse_v1({"instances": [{}, {}]}, default_top_k=20)


@pytest.mark.parametrize("body", [b"top_k=5", b"[1]", b'"text"'])
def test_a_body_that_is_not_a_json_object(body):
    with pytest.raises(InvalidInput, match="JSON object"):
        parse_v1(body, default_top_k=20)


def test_v2_tensors_by_field_name():
    request = InferRequest(
        "skillrank",
        [
            InferInput("viewer_id", [1], "BYTES", data=["u-1"]),
            InferInput("top_k", [1], "INT32", data=[3]),
            InferInput("max_risk", [1], "FP64", data=[0.25]),
            InferInput("exclude_account_ids", [2], "BYTES", data=["a", "b"]),
        ],
    )
    assert parse_v2(request, default_top_k=20) == FeedRequest("u-1", 3, (), 0.25, ("a", "b"))


@pytest.mark.parametrize(
    ("tensor", "message"),
    [
        (InferInput("top_k", [1], "FP64", data=[3.0]), "top_k must be of datatype INT"),
        (InferInput("top_k", [2], "INT32", data=[3, 4]), "must hold one value"),
        (InferInput("viewer_id", [1], "INT64", data=[3]), "viewer_id must be of datatype BYTES"),
        (InferInput("sectors", [1], "FP64", data=[1.0]), "sectors must be of datatype BYTES"),
        (InferInput("colour", [1], "BYTES", data=["red"]), r"unknown inputs \['colour'\]"),
    ],
)
def test_bad_v2_tensors(tensor, message):
    with pytest.raises(InvalidInput, match=message):
        parse_v2(InferRequest("skillrank", [tensor]), default_top_k=20)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3)
    ),
    max_leaves=10,
)
fields = st.fixed_dictionaries(
    {},
    optional={
        "viewer_id": json_values,
        "top_k": json_values | st.integers(-3, 150),
        "sectors": json_values | st.lists(st.text(max_size=12), max_size=3),
        "max_risk": json_values,
        "exclude_account_ids": json_values | st.lists(st.text(max_size=12), max_size=3),
    },
)


@settings(max_examples=400, deadline=None, database=None)
@given(body=fields | json_values)
def test_any_body_is_a_request_or_a_clear_invalid_input(body):
    try:
        request = parse_v1(body, default_top_k=20)
    except InvalidInput as e:
        assert str(e)
        return
    assert 1 <= request.top_k <= 100
    assert request.max_risk is None or request.max_risk >= 0
    assert all(isinstance(a, str) and a for a in request.exclude_account_ids + request.sectors)
