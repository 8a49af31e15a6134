"""The boundary's codec: whatever bytes the candidate's side sends, the trusted side gets fresh
built-ins and checked arrays, or a WireError; never an object the candidate built, never a crash."""

from __future__ import annotations

import datetime

import socket
import struct

import msgpack
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from evaluators.answers import Array, Float, Int, Invalid, Permutation, Tuple, check
from sandboxes import framing, wire


def test_plain_data_and_arrays_round_trip_as_fresh_values():
    value = {"a": [1, 2.5, None, True, "x", b"y"], "arr": np.arange(6, dtype=np.int32).reshape(2, 3)}
    back = wire.unpack_trusted(wire.pack(value))
    assert back["a"] == [1, 2.5, None, True, "x", b"y"]
    assert back["arr"].dtype == np.int32 and back["arr"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert back["arr"].flags.writeable and back["arr"].flags.owndata


def test_subclasses_cross_as_what_they_really_hold():
    class Liar(list):
        def __len__(self):
            return 99

    class Truthy(int):
        def __eq__(self, other):
            return True

    back = wire.unpack_trusted(wire.pack_answers([Liar([1, 2]), Truthy(5), (3, 4)]))
    assert back == [[1, 2], 5, [3, 4]]
    assert [type(v) for v in back] == [list, int, list]


def test_what_cannot_be_encoded_arrives_as_a_marker_and_checks_as_invalid():
    back = wire.unpack_trusted(wire.pack_answers([1, {1, 2}, object(), np.array(["s"])]))
    assert back[0] == 1
    assert [type(v).__name__ for v in back[1:]] == ["Unencodable"] * 3
    verdict = check(None, back[1])
    assert isinstance(verdict, Invalid) and "set, which is not plain data" in verdict.reason


@pytest.mark.parametrize(
    "payload",
    [
        bytes([200, 1]) + struct.pack("<Q", 1) + b"x",  # a dtype code outside the table (object, say)
        bytes([10, 1]) + struct.pack("<Q", 2) + b"1234",  # float64 x 2 needs 16 bytes
        bytes([10, 1]) + struct.pack("<Q", 2**63),  # a shape that overflows
        bytes([4, 9]) + struct.pack("<9Q", *[1] * 9) + b"\0" * 8,  # more dimensions than allowed
        bytes([10, 2]) + b"\0" * 4,  # a header cut short
        b"",
    ],
    ids=["unknown-dtype", "short-buffer", "overflowing-shape", "too-many-dims", "cut-header", "empty"],
)
def test_malformed_arrays_are_wire_errors(payload):
    data = msgpack.packb(msgpack.ExtType(wire.ARRAY, payload), use_bin_type=True)
    with pytest.raises(wire.WireError):
        wire.unpack_trusted(data)


def test_an_array_bomb_is_refused_before_it_costs_memory():
    empty = msgpack.ExtType(wire.ARRAY, bytes([10, 1]) + struct.pack("<Q", 0))
    data = msgpack.packb([empty] * 200_000, use_bin_type=True)  # 2.2 MB that would become 200k arrays
    with pytest.raises(wire.WireError, match="arrays in one message"):
        wire.unpack_trusted(data)


def test_records_from_the_candidate_side_are_refused_on_the_trusted_side():
    data = wire.pack(wire.Records("Obs", {"a": [1]}))
    with pytest.raises(wire.WireError, match="extension type 2"):
        wire.unpack_trusted(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
@example(b"\x81\x01\x02")  # {1: 2}: an int key (found by this test)
@example(b"\xd6\xff\x00\x00\x00\x00")  # a msgpack timestamp
def test_random_bytes_never_crash_the_trusted_decoder(data):
    try:
        value = wire.unpack_trusted(data)
    except wire.WireError:
        return
    _assert_plain(value)


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(max_size=8),
                    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=4), kids, max_size=4), max_leaves=20))
def test_any_plain_value_survives_the_round_trip(value):
    back = wire.unpack_trusted(wire.pack_answers([value]))[0]
    _assert_plain(back)
    assert msgpack.packb(back) == msgpack.packb(value)


def test_deep_nesting_is_a_wire_error_not_a_crash():
    data = b"\x91" * 100_000 + b"\xc0"  # a hundred thousand nested one-element arrays
    with pytest.raises(wire.WireError):
        wire.unpack_trusted(data)


def test_a_message_larger_than_the_limit_is_refused_before_it_is_read():
    ours, theirs = framing.channel_pair()
    theirs.sendall(framing.HEADER.pack(10_000_000))
    with pytest.raises(framing.MessageTooLarge):
        framing.recv_message(ours, max_bytes=1000, deadline=None)
    theirs.close()
    ours.close()


def test_a_closed_channel_and_a_deadline_are_told_apart():
    ours, theirs = framing.channel_pair()
    import time

    with pytest.raises(framing.ChannelTimeout):
        framing.recv_message(ours, 1000, deadline=time.monotonic() + 0.05)
    theirs.close()
    with pytest.raises(framing.ChannelClosed):
        framing.recv_message(ours, 1000, deadline=time.monotonic() + 1)
    ours.close()


@pytest.mark.parametrize(
    ("spec", "value", "reason"),
    [
        (Int(0, 2), 3, "outside 0..2"),
        (Int(0, 2), True, "(bool), not an int"),
        (Float(), float("inf"), "not a finite number"),
        (Tuple(Int(), Int()), [1], "not a pair/tuple of 2 items"),
        (Array("float", (3,)), [1.0, float("nan"), 2.0], "not a finite number"),
        (Array("int", (2,)), np.zeros(3, dtype=np.int64), "shape (3,)"),
        (Array("int", (2,)), [True, False], "not only numbers"),
        (Permutation(3), [0, 0, 1], "appears twice"),
        (Permutation(3), [0, 1], "2 entries for 3 items"),
    ],
)
def test_declared_answer_types_reject_with_a_reason(spec, value, reason):
    verdict = check(spec, value)
    assert isinstance(verdict, Invalid) and reason in verdict.reason, verdict


# what a decoded scalar may be: built-ins (msgpack's timestamp extension is a datetime) or our marker
_SCALARS = (type(None), bool, int, float, str, bytes, datetime.datetime, wire.Unencodable)


def _assert_plain(value) -> None:
    if isinstance(value, list):
        assert type(value) is list
        for item in value:
            _assert_plain(item)
    elif isinstance(value, dict):
        assert type(value) is dict
        for key, item in value.items():
            assert type(key) in _SCALARS  # dicts keyed by scalars decode (strict_map_key=False)
            _assert_plain(item)
    elif isinstance(value, np.ndarray):
        assert value.dtype.kind in "biuf"
    else:
        assert type(value) in _SCALARS


def test_socketpair_buffers_hold_a_batch():
    ours, theirs = framing.channel_pair()
    assert ours.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) >= 1 << 20
    ours.close()
    theirs.close()


def test_the_trusted_channel_reads_messages_exactly_as_sent():
    import time

    ours, theirs = framing.channel_pair()
    channel = framing.Channel(ours)
    theirs.sendall(framing.HEADER.pack(3) + b"abc" + framing.HEADER.pack(2) + b"de" + framing.HEADER.pack(4) + b"f")
    assert channel.recv(100, deadline=time.monotonic() + 1) == b"abc"
    assert channel.recv(100, deadline=time.monotonic() + 1) == b"de"  # kept from the first read
    with pytest.raises(framing.ChannelTimeout):  # half a message, then nothing
        channel.recv(100, deadline=time.monotonic() + 0.05)
    theirs.sendall(b"ghi")
    assert channel.recv(100, deadline=time.monotonic() + 1) == b"fghi"
    theirs.sendall(framing.HEADER.pack(1000))
    with pytest.raises(framing.MessageTooLarge):
        channel.recv(100, deadline=None)
    channel.send(b"x" * 100_000, deadline=time.monotonic() + 1)
    assert framing.recv_message(theirs, 200_000) == b"x" * 100_000
    theirs.close()
    with pytest.raises(framing.ChannelClosed):
        framing.Channel(ours).recv(100, deadline=time.monotonic() + 1)
    ours.close()


def test_after_the_deadline_the_trusted_channel_takes_no_more_answers():
    """As recv_message: once the wall clock limit has passed, a receive is a timeout even when
    whole messages wait (in the socket, or kept from an earlier read). Otherwise a candidate that
    queued replies ahead (or whose process the supervisor killed at the limit) would go on being
    answered, and scored, past its wall clock limit, as long as this side never had to wait."""
    import time

    ours, theirs = framing.channel_pair()
    channel = framing.Channel(ours)
    theirs.sendall((framing.HEADER.pack(1) + b"a") * 3)
    assert channel.recv(100, deadline=time.monotonic() + 1) == b"a"  # the other two are kept
    with pytest.raises(framing.ChannelTimeout):
        channel.recv(100, deadline=time.monotonic() - 0.001)  # kept bytes, deadline passed
    fresh = framing.Channel(theirs)
    ours.sendall(framing.HEADER.pack(1) + b"b")
    with pytest.raises(framing.ChannelTimeout):
        fresh.recv(100, deadline=time.monotonic() - 0.001)  # bytes in the socket, deadline passed
    with pytest.raises(framing.ChannelTimeout):
        framing.recv_message(theirs, 100, deadline=time.monotonic() - 0.001)  # the rule it keeps
    ours.close()
    theirs.close()
