"""Property-based fuzzing of POST /api/setups over real HTTP: bad input never gives a 5xx, never starts a run,
never reaches ARM, and every 400 names a field (the field that was broken, or one the broken rule ties it to).

Each example starts from a valid request and breaks it in 1-3 places (wrong types, huge / non-ASCII /
path-like names, IPv6 / /0 / /32 / host-bits / reserved / overlapping ranges, missing and extra fields),
or sends something that is not a request at all (malformed JSON, other JSON values, random bytes).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devhost.testing import DevHost
from tests.reliability.harness import Lab, Target

EXAMPLES = 1000
BASE = Target("fuzz|never-used").body()

NAME_FIELDS = [
    "identity.name",
    "aks.name",
    "aks.vnetName",
    "aks.nodeSubnetName",
    "acr.name",
    "hopsworksNetwork.vnetName",
    "hopsworksNetwork.subnetName",
]
CIDR_FIELDS = [
    "aks.addressSpace",
    "aks.nodeSubnetPrefix",
    "aks.serviceCidr",
    "hopsworksNetwork.addressSpace",
    "hopsworksNetwork.subnetPrefix",
]
REQUIRED = [
    "subscriptionId",
    "resourceGroup",
    "topology",
    "identity",
    "identity.name",
    "aks",
    "aks.name",
    "acr",
    "acr.name",
    "hopsworksNetwork",
]
WRONG_TYPES = st.one_of(
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
PATHLIKE = st.sampled_from(
    [
        "a/b",
        "..",
        "../etc",
        "name?x=1",
        "100%",
        "%2e%2e",
        "a#b",
        "x\\y",
        "a\x00b",
        "white space",
        "",
        " ",
        "-lead",
        "trail.",
        "ünïcödé",
        "名前",
        "🙂emoji",
        "a" * 5000,
    ]
)
BAD_CIDRS = st.sampled_from(
    [
        "fd00::/8",
        "2001:db8::/32",
        "::/0",
        "0.0.0.0/0",
        "10.0.0.0/0",
        "10.1.2.3/32",
        "10.240.0.1/16",
        "10.240.0.0",
        "10.240.0.0/33",
        "10.240.0.0/-1",
        "256.1.1.1/16",
        "10.240.0.0/16/16",
        "not a cidr",
        "",
        "169.254.0.0/16",
        "192.0.2.0/24",
        "172.30.0.0/16",
        "172.31.0.0/16",
        "10.240.0.0/4",
    ]
) | st.text(max_size=40)
BAD_IPS = st.sampled_from(
    ["fd00::10", "10.1.0.10", "10.0.0.0", "10.0.255.255", "999.0.0.1", "", "10.0.0.10/32"]
)


def _set(body: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = body
    for part in parents:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[last] = value


def _delete(body: dict[str, Any], path: str) -> None:
    *parents, last = path.split(".")
    node: Any = body
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(last, None)


# A mutation: (the fields a correct answer may name, how to apply it)
@st.composite
def mutation(draw: st.DrawFn) -> tuple[set[str], Any]:
    kind = draw(
        st.sampled_from(
            [
                "type",
                "name",
                "cidr",
                "dns",
                "overlap",
                "missing",
                "extra",
                "number",
                "subscription",
                "resourceGroup",
                "topology",
            ]
        )
    )
    if kind == "type":
        path = draw(
            st.sampled_from(
                NAME_FIELDS
                + CIDR_FIELDS
                + ["subscriptionId", "resourceGroup", "topology", "aks.nodeCount", "acr.retentionDays"]
            )
        )
        # null is a valid aks.vnetName (the default name), so it is no wrong type there.
        value = draw(
            WRONG_TYPES.filter(lambda v: not isinstance(v, str) and (v is not None or path != "aks.vnetName"))
        )
        if path in ("aks.nodeCount", "acr.retentionDays") and type(value) is int:
            value = str(value)
        return {path}, lambda b: _set(b, path, value)
    if kind == "name":
        path = draw(st.sampled_from(NAME_FIELDS))
        value = draw(PATHLIKE | st.text(min_size=1, max_size=20).map(lambda t: "a/" + t))
        related = {path, "aks.vnetName"} if path == "aks.name" else {path}
        return related, lambda b: _set(b, path, value)
    if kind == "cidr":
        path = draw(st.sampled_from(CIDR_FIELDS))
        value = draw(
            BAD_CIDRS.filter(
                lambda v: (
                    v
                    not in ("10.240.0.0/16", "10.240.0.0/20", "10.0.0.0/16", "172.18.0.0/16", "172.18.0.0/24")
                )
            )
        )
        return set(CIDR_FIELDS) | {"aks.dnsServiceIp"}, lambda b: _set(b, path, value)
    if kind == "dns":
        value = draw(BAD_IPS)
        return {"aks.dnsServiceIp"}, lambda b: _set(b, "aks.dnsServiceIp", value)
    if kind == "overlap":
        pair = draw(
            st.sampled_from(
                [
                    ("aks.serviceCidr", "10.240.0.0/16"),
                    ("hopsworksNetwork.addressSpace", "10.240.0.0/12"),
                    ("aks.serviceCidr", "172.18.0.0/16"),
                    ("aks.serviceCidr", "172.17.0.0/16"),
                    ("aks.nodeSubnetPrefix", "10.0.0.0/20"),
                ]
            )
        )
        return set(CIDR_FIELDS) | {"aks.dnsServiceIp"}, lambda b: _set(b, pair[0], pair[1])
    if kind == "missing":
        path = draw(st.sampled_from(REQUIRED))
        return {path, path.rsplit(".", 1)[0]}, lambda b: _delete(b, path)
    if kind == "extra":
        where = draw(st.sampled_from(["", "identity.", "aks.", "acr.", "hopsworksNetwork."]))
        key = draw(st.text(min_size=1, max_size=30).filter(lambda k: k not in json.dumps(BASE)))
        value = draw(WRONG_TYPES | st.text(max_size=10))
        return {
            (where + key) if where else key,
            where.rstrip(".") or "body",
            (where + "*"),
        }, lambda b: _set(b, where + key, value) if "." not in key else _extra(b, where, key, value)
    if kind == "number":
        path, value = draw(
            st.sampled_from(
                [
                    ("aks.nodeCount", 0),
                    ("aks.nodeCount", -1),
                    ("aks.nodeCount", 10**9),
                    ("aks.nodeCount", 1.5),
                    ("acr.retentionDays", -1),
                    ("acr.retentionDays", 366),
                    ("acr.retentionDays", 2**70),
                ]
            )
        )
        return {path}, lambda b: _set(b, path, value)
    if kind == "subscription":
        value = draw(
            st.sampled_from(
                [
                    "",
                    "not-a-guid",
                    "00000000-0000-0000-0000-00000000000",
                    "../x",
                    "00000000-0000-0000-0000-0000000000001",
                ]
            )
            | st.text(max_size=40)
        )
        return {"subscriptionId"}, lambda b: _set(b, "subscriptionId", value)
    if kind == "resourceGroup":
        value = draw(st.sampled_from(["a/b", "a?b", "100%", "a#b", "trail.", "", "🙂", "x" * 91, "a\tb"]))
        return {"resourceGroup"}, lambda b: _set(b, "resourceGroup", value)
    value = draw(st.text(max_size=20).filter(lambda t: t not in ("peering", "subnet")))
    return {"topology"}, lambda b: _set(b, "topology", value)


def _extra(body: dict[str, Any], where: str, key: str, value: Any) -> None:
    node: Any = body
    for part in [p for p in where.split(".") if p]:
        node = node[part]
    node[key] = value


@st.composite
def bad_request(draw: st.DrawFn) -> tuple[bytes, set[str] | None]:
    """Bytes to POST and the fields a correct 400 may name (None: not a request at all, any field will do)."""
    shape = draw(st.sampled_from(["mutated"] * 8 + ["malformed", "json-value", "bytes"]))
    if shape == "malformed":
        text = json.dumps(BASE)
        cut = draw(st.integers(0, len(text) - 1))
        return text[:cut].encode() + draw(st.sampled_from([b"", b",,", b"\xff", b"'", b"},"])), None
    if shape == "json-value":
        value = draw(
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                max_leaves=8,
            )
        )
        return json.dumps(value).encode(), None
    if shape == "bytes":
        return draw(st.binary(max_size=200)), None
    body = copy.deepcopy(BASE)
    allowed: set[str] = set()
    for related, apply in draw(st.lists(mutation(), min_size=1, max_size=3)):
        allowed |= related
        apply(body)
    return json.dumps(body).encode(), allowed


@pytest.fixture(scope="module")
def fuzz_host(lab: Lab) -> Iterator[DevHost]:
    host = lab.new_host("fuzz")
    host.start()
    yield host
    host.stop()


def _related(field: str, allowed: set[str]) -> bool:
    return any(
        field == a
        or field.startswith(a + ".")
        or a.startswith(field + ".")
        or field == "body"
        or (a.endswith("*") and field.startswith(a[:-1]))
        for a in allowed
    )


def test_bad_requests_are_refused_naming_a_field_without_starting_anything(
    lab: Lab, fuzz_host: DevHost
) -> None:
    mark = lab.log_mark()
    url = f"{fuzz_host.base_url}/api/setups"
    headers = {**fuzz_host.auth_headers, "content-type": "application/json"}
    seen = {"cases": 0}

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(bad_request())
    def check(case: tuple[bytes, set[str] | None]) -> None:
        raw, allowed = case
        seen["cases"] += 1
        response = lab.http.post(url, data=raw, headers=headers, timeout=30)
        assert response.status_code == 400, (raw[:300], response.status_code, response.text[:300])
        errors = response.json()["errors"]
        assert errors and all(isinstance(e["field"], str) and e["field"] and e["message"] for e in errors)
        if allowed is not None:
            assert any(_related(e["field"], allowed) for e in errors), (raw[:400], allowed, errors)

    check()
    assert seen["cases"] >= EXAMPLES
    assert lab.instances(fuzz_host) == []  # no run started
    assert lab.log(since=mark) == []  # no ARM request
