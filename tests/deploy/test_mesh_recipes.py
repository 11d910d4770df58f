"""The mesh recipes in deploy/mesh/: they parse, name every key their controllers require,
and agree with the chart's mesh values and with livetokens' own identity parsing. (The
Istio, Linkerd and Envoy schemas are not available offline: required keys are checked
here instead.)"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
import yaml
from deploy_support import CHART, REPO

from livetokens.server.security.identity import xfcc_identities

MESH = REPO / "deploy" / "mesh"
MINT = "/livetokens.v1.TokenService/MintToken"


def documents(relative: str) -> list[dict[str, Any]]:
    """The YAML documents of a recipe file."""
    return [d for d in yaml.safe_load_all((MESH / relative).read_text()) if d]


def kinds(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Documents by kind (each kind once per recipe)."""
    found: dict[str, dict[str, Any]] = {}
    for doc in docs:
        assert {"apiVersion", "kind", "metadata", "spec"} <= set(doc), doc
        assert doc["metadata"].get("name"), doc
        assert doc["kind"] not in found, f"two {doc['kind']} objects"
        found[doc["kind"]] = doc
    return found


def walk(obj: Any) -> list[str]:
    """Every mapping key anywhere in ``obj``."""
    if isinstance(obj, dict):
        return [k for key, value in obj.items() for k in [key, *walk(value)]]
    if isinstance(obj, list):
        return [k for item in obj for k in walk(item)]
    return []


def mesh_values() -> dict[str, Any]:
    """The chart's values-mesh.yaml."""
    return yaml.safe_load((CHART / "values-mesh.yaml").read_text())  # type: ignore[no-any-return]


def test_istio_strict_mtls_and_only_named_service_accounts_may_mint() -> None:
    """PeerAuthentication STRICT; the AuthorizationPolicy ALLOWs MintToken to named service
    accounts only, which are the callers of the chart's mesh policy."""
    objects = kinds(documents("istio/livetokens-istio.yaml"))
    assert objects["PeerAuthentication"]["spec"]["mtls"]["mode"] == "STRICT"
    authz = objects["AuthorizationPolicy"]["spec"]
    assert authz["action"] == "ALLOW"
    (rule,) = authz["rules"]
    principals = [p for s in rule["from"] for p in s["source"]["principals"]]
    paths = [p for t in rule["to"] for p in t["operation"]["paths"]]
    assert paths == [MINT]
    assert principals
    assert all(p.startswith("cluster.local/ns/") and "/sa/" in p for p in principals)
    values = mesh_values()["policy"]
    callers = {
        f"{values['trustDomain']}/ns/{c['namespace']}/sa/{c['serviceAccount']}"
        for c in values["callers"]
    }
    assert set(principals) == callers


def test_istio_retries_only_unavailable_never_hedges_and_times_out_at_10s() -> None:
    """The VirtualService retries `unavailable` only, with the clients' 10 s deadline; no
    hedge or mirror anywhere in the recipe; mTLS to the pods."""
    docs = documents("istio/livetokens-istio.yaml")
    objects = kinds(docs)
    (route,) = objects["VirtualService"]["spec"]["http"]
    assert route["match"] == [{"uri": {"exact": MINT}}]
    assert route["retries"]["retryOn"] == "unavailable"
    assert route["retries"]["attempts"] <= 2
    assert route["timeout"] == "10s"
    assert route["retries"]["perTryTimeout"] == "10s"
    keys = set(walk(docs))
    assert not keys & {"hedgePolicy", "hedge_policy", "mirror", "mirrorPercentage"}
    assert objects["DestinationRule"]["spec"]["trafficPolicy"]["tls"]["mode"] == "ISTIO_MUTUAL"


def test_istio_sidecar_forwards_to_the_loopback_address_the_chart_binds() -> None:
    """The Sidecar's defaultEndpoint is where values-mesh.yaml makes livetokens listen, and
    the chart trusts only Istio's inbound source address."""
    sidecar = kinds(documents("istio/livetokens-istio.yaml"))["Sidecar"]["spec"]
    (ingress,) = sidecar["ingress"]
    values = mesh_values()
    assert (
        ingress["defaultEndpoint"] == f"{values['grpc']['bindAddress']}:{ingress['port']['number']}"
    )
    assert ingress["port"]["protocol"] == "GRPC"
    assert values["auth"]["trustedProxies"] == ["127.0.0.6/32"]


def test_linkerd_policy_admits_named_service_accounts_to_mint_only() -> None:
    """Linkerd: a gRPC Server denying by default, an HTTPRoute for MintToken, and an
    AuthorizationPolicy on that route requiring the named service accounts' mTLS ids."""
    objects = kinds(documents("linkerd/livetokens-linkerd.yaml"))
    server = objects["Server"]
    assert server["spec"]["proxyProtocol"] == "gRPC"
    assert server["spec"]["accessPolicy"] == "deny"
    route = objects["HTTPRoute"]
    assert route["spec"]["parentRefs"][0]["name"] == server["metadata"]["name"]
    assert route["spec"]["rules"][0]["matches"][0]["path"] == {"type": "Exact", "value": MINT}
    policy = objects["AuthorizationPolicy"]["spec"]
    assert policy["targetRef"]["kind"] == "HTTPRoute"
    assert policy["targetRef"]["name"] == route["metadata"]["name"]
    auth = policy["requiredAuthenticationRefs"][0]
    assert auth["name"] == objects["MeshTLSAuthentication"]["metadata"]["name"]
    refs = objects["MeshTLSAuthentication"]["spec"]["identityRefs"]
    assert {(r["kind"], r["namespace"], r["name"]) for r in refs} == {
        ("ServiceAccount", "web", "frontend"),
        ("ServiceAccount", "voice", "kiosk"),
    }


def test_envoy_sets_xfcc_the_way_trusted_proxy_mode_expects() -> None:
    """Envoy: client certificates required, SANITIZE_SET with the URI, HTTP/2 to livetokens
    on loopback from 127.0.0.6, retries only `unavailable`, 10 s, no hedging."""
    (config,) = documents("envoy/envoy-sidecar.yaml")
    (listener,) = config["static_resources"]["listeners"]
    (chain,) = listener["filter_chains"]
    assert chain["transport_socket"]["typed_config"]["require_client_certificate"] is True
    (hcm,) = chain["filters"]
    manager = hcm["typed_config"]
    assert manager["forward_client_cert_details"] == "SANITIZE_SET"
    assert manager["set_current_client_cert_details"]["uri"] is True
    (route,) = manager["route_config"]["virtual_hosts"][0]["routes"]
    assert route["match"]["path"] == MINT
    assert route["route"]["timeout"] == "10s"
    assert route["route"]["retry_policy"]["retry_on"] == "unavailable"
    assert "hedge_policy" not in set(walk(config))
    (cluster,) = config["static_resources"]["clusters"]
    source = cluster["upstream_bind_config"]["source_address"]["address"]
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert endpoint["address"]["socket_address"]["address"] == "127.0.0.1"
    assert ipaddress.ip_address(source) in ipaddress.ip_network("127.0.0.6/32")
    assert "http2_protocol_options" in set(walk(cluster))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        # Istio's sidecar (APPEND_FORWARD): its own element comes last.
        (
            'By=spiffe://cluster.local/ns/tokens/sa/livetokens;Hash=ab12;Subject="";'
            "URI=spiffe://cluster.local/ns/web/sa/frontend",
            ["spiffe://cluster.local/ns/web/sa/frontend"],
        ),
        # A forwarded chain: livetokens reads the last element only.
        (
            "URI=spiffe://cluster.local/ns/evil/sa/x,"
            "By=spiffe://cluster.local/ns/tokens/sa/livetokens;Hash=cd34;"
            "URI=spiffe://cluster.local/ns/voice/sa/kiosk",
            ["spiffe://cluster.local/ns/voice/sa/kiosk"],
        ),
        # Envoy SANITIZE_SET with uri and dns.
        ("Hash=ef56;DNS=billing.example.org", ["dns:billing.example.org"]),
    ],
)
def test_the_documented_header_formats_give_the_documented_caller_ids(
    header: str, expected: list[str]
) -> None:
    """livetokens' own XFCC parser turns the formats deploy/mesh/README.md documents into
    the caller ids it documents."""
    assert xfcc_identities(header) == expected
