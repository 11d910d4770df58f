"""The Helm chart: helm lint, helm template of the default and mesh values, every rendered
object checked against the Kubernetes schemas (offline, kubernetes-validate), and the
rendered configuration checked against livetokens itself (its flag parser, its policy
parser)."""

from __future__ import annotations

import re
from typing import Any

import kubernetes_validate
import pytest
import yaml
from deploy_support import CHART, KUBE_VERSION, helm, render

from livetokens.server.security.policy import parse_policy

# Objects of CRDs whose schemas kubernetes-validate does not ship: the keys the
# operator reading them needs.
CRD_REQUIRED = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): ("spec.selector", "spec.endpoints"),
}
OPTIONAL_ON = [
    "autoscaling.enabled=true",
    "serviceMonitor.enabled=true",
    "networkPolicy.enabled=true",
    "test.bearerSecret.secretName=livetokens-test-bearer",
    "secrets.auditKey.secretName=livetokens-audit-key",
]


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The rendered objects of one kind."""
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """The one rendered object of ``kind``."""
    found = by_kind(docs, kind)
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def dig(obj: dict[str, Any], dotted: str) -> Any:
    """``obj['a']['b']`` for ``'a.b'``; None when absent."""
    for part in dotted.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def validate_all(docs: list[dict[str, Any]]) -> None:
    """Every object against the schema of its kind (strict: unknown fields fail)."""
    assert docs
    for doc in docs:
        key = (doc["apiVersion"], doc["kind"])
        if key in CRD_REQUIRED:
            missing = [k for k in CRD_REQUIRED[key] if dig(doc, k) is None]
            assert not missing, f"{key} lacks {missing}"
            continue
        try:
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']} {doc['metadata']['name']}: {exc.message} at {exc.path}")


def container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The livetokens container of the Deployment."""
    containers = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "livetokens")


def flag(args: list[str], name: str) -> str:
    """The value of ``--name=value`` in ``args``."""
    values = [a.partition("=")[2] for a in args if a.startswith(f"--{name}=")]
    assert len(values) == 1, f"--{name} appears {len(values)} times in {args}"
    return values[0]


def test_helm_lint_passes_strictly() -> None:
    """`helm lint --strict` finds no error and no warning in the chart (default and mesh)."""
    for extra in ([], ["-f", str(CHART / "values-mesh.yaml")]):
        result = helm("lint", "--strict", str(CHART), "--kube-version", KUBE_VERSION, *extra)
        assert "0 chart(s) failed" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("values", "set_values"),
    [((), ()), (("values-mesh.yaml",), ()), ((), OPTIONAL_ON)],
    ids=["default", "mesh", "optional-objects"],
)
def test_every_rendered_object_matches_the_kubernetes_schema(
    values: tuple[str, ...], set_values: tuple[str, ...] | list[str]
) -> None:
    """Each object `helm template` renders is valid for its kind (strict schema)."""
    docs = render(*values, set_values=set_values)
    validate_all(docs)
    if set_values:
        kinds = {d["kind"] for d in docs}
        assert {"HorizontalPodAutoscaler", "ServiceMonitor", "NetworkPolicy", "Pod"} <= kinds


def test_schema_validation_can_fail() -> None:
    """The validator rejects a Deployment with a misspelt field (so a pass means something)."""
    deployment = one(render(), "Deployment")
    deployment["spec"]["replica"] = deployment["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSION, strict=True)


def test_default_deployment_is_replicated_probed_and_locked_down() -> None:
    """Default values: 2+ replicas, probes on the admin ports, restricted security context."""
    docs = render()
    deployment = one(docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    main = container(docs)
    assert deployment["spec"]["replicas"] >= 2
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    assert main["readinessProbe"]["grpc"]["port"] == ports["admin-grpc"]
    assert main["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "admin-http"}
    assert main["startupProbe"]["httpGet"]["port"] == "admin-http"
    args = main["args"]
    assert flag(args, "admin-listen") == f"$(POD_IP):{ports['admin-http']}"
    assert flag(args, "health-listen") == f"$(POD_IP):{ports['admin-grpc']}"
    assert flag(args, "listen").endswith(f":{ports['grpc']}")
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = main["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert main["resources"]["requests"]["cpu"]
    assert main["resources"]["limits"]["memory"]


def test_termination_grace_covers_the_drain_delay_and_grace_period() -> None:
    """terminationGracePeriodSeconds > --drain-delay + --grace-period, so the kubelet never
    kills a drain; mesh values too."""
    for values in ((), ("values-mesh.yaml",)):
        docs = render(*values)
        args = container(docs)["args"]
        pod = one(docs, "Deployment")["spec"]["template"]["spec"]
        drain = float(flag(args, "drain-delay")) + float(flag(args, "grace-period"))
        assert pod["terminationGracePeriodSeconds"] > drain
    docs = render(set_values=["drain.drainDelay=12", "drain.gracePeriod=30"])
    assert (
        one(docs, "Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        == 12 + 30 + 5
    )


def test_service_names_grpc_and_http_app_protocols_and_a_pdb_keeps_one_pod() -> None:
    """The Service says appProtocol grpc (MintToken) and http (admin); a PDB exists."""
    docs = render()
    ports = {p["name"]: p for p in one(docs, "Service")["spec"]["ports"]}
    assert ports["grpc"]["appProtocol"] == "grpc"
    assert ports["admin-http"]["appProtocol"] == "http"
    pdb = one(docs, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] >= 1
    assert pdb["spec"]["selector"] == one(docs, "Deployment")["spec"]["selector"]


def test_secrets_are_files_from_secret_volumes_and_the_policy_a_directory_mount() -> None:
    """API key, fingerprint key, audit key are *_FILE paths on Secret volumes; no secret is
    an env value; the policy ConfigMap is mounted as a directory (atomic symlink swap)."""
    docs = render(set_values=["secrets.auditKey.secretName=audit"])
    main = container(docs)
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m for m in main["volumeMounts"]}
    env = {e["name"]: e for e in main["env"]}
    for var, volume in [
        ("GEMINI_API_KEY_FILE", "gemini-api-key"),
        ("LIVETOKENS_FINGERPRINT_KEY_FILE", "fingerprint-key"),
        ("LIVETOKENS_AUDIT_KEY_FILE", "audit-key"),
    ]:
        assert "secret" in volumes[volume], volume
        assert env[var]["value"].startswith(mounts[volume]["mountPath"] + "/")
        assert mounts[volume]["readOnly"] is True
    assert not {"GEMINI_API_KEY", "LIVETOKENS_FINGERPRINT_KEY", "LIVETOKENS_AUDIT_KEY"} & set(env)
    assert all("valueFrom" not in e or "secretKeyRef" not in e["valueFrom"] for e in main["env"])
    policy_mount = mounts["policy"]
    assert "subPath" not in policy_mount
    assert "configMap" in volumes["policy"]
    assert flag(main["args"], "policy") == policy_mount["mountPath"] + "/policy.toml"
    # Read-only root filesystem: every path livetokens writes is a volume.
    written = ["/tmp", flag(main["args"], "audit-log").rpartition("/")[0]]  # noqa: S108
    assert all(any(m["mountPath"] == path for m in mounts.values()) for path in written)


@pytest.mark.parametrize("values", [(), ("values-mesh.yaml",)], ids=["default", "mesh"])
def test_rendered_policy_is_valid_and_names_callers_by_spiffe_id(values: tuple[str, ...]) -> None:
    """The policy ConfigMap parses with livetokens' policy parser; namespace + service
    account became spiffe://<trust domain>/ns/<ns>/sa/<sa> by the SPIFFE ID template."""
    text = one(render(*values), "ConfigMap")["data"]["policy.toml"]
    policy = parse_policy(text, "policy.toml")
    assert policy.names("spiffe://cluster.local/ns/web/sa/frontend")
    assert not policy.names("spiffe://cluster.local/ns/web/sa/stranger")


def test_a_caller_without_an_id_fails_the_render_naming_the_value() -> None:
    """A caller entry with neither id nor namespace+serviceAccount stops `helm template`."""
    result = helm(
        "template",
        "lt",
        str(CHART),
        "--kube-version",
        KUBE_VERSION,
        "--set",
        "policy.callers[0].namespace=web",
        check=False,
    )
    assert result.returncode != 0
    assert "policy.callers" in result.stderr


def test_mesh_values_trust_only_the_sidecar_address_and_bind_loopback() -> None:
    """Mesh values: plaintext on 127.0.0.1 behind the sidecar, the XFCC header trusted from
    Istio's inbound source address only, no TLS of its own."""
    main = container(render("values-mesh.yaml"))
    args = main["args"]
    assert flag(args, "listen").startswith("127.0.0.1:")
    assert flag(args, "trusted-proxy") == "127.0.0.6/32"
    assert flag(args, "identity-header") == "x-forwarded-client-cert"
    assert not any(a.startswith("--tls-") for a in args)
    assert "--insecure-allow-non-loopback" not in args


def test_values_are_all_documented_in_the_chart_readme() -> None:
    """Every leaf key of values.yaml has a row in the chart README's values table."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    readme = (CHART / "README.md").read_text()
    documented = set(re.findall(r"^\| `([^`]+)` \|", readme, re.MULTILINE))

    def leaves(obj: Any, prefix: str = "") -> list[str]:
        if isinstance(obj, dict) and obj:
            return [k for key, v in obj.items() for k in leaves(v, f"{prefix}{key}.")]
        return [prefix.rstrip(".")]

    missing = [
        key
        for key in leaves(values)
        if not any(key == d or key.startswith(d + ".") for d in documented)
    ]
    assert not missing, f"undocumented values: {missing}"
