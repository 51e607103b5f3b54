"""The restricted Pod Security Standard (Kubernetes' `restricted` level, version latest), one check per rule, so that
the tests can say which rule a pod spec breaks. Each check returns the problems it finds as sentences.

https://kubernetes.io/docs/concepts/security/pod-security-standards/ lists the rules: the baseline ones first, then
the restricted ones, which every pod of a namespace labelled `pod-security.kubernetes.io/enforce: restricted` must
pass or be refused at admission.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

PodSpec = dict[str, Any]

CONTAINER_KINDS = ("containers", "initContainers", "ephemeralContainers")
ALLOWED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
ALLOWED_SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
ALLOWED_SECCOMP_TYPES = {"RuntimeDefault", "Localhost"}
ALLOWED_APPARMOR_TYPES = {"RuntimeDefault", "Localhost"}
# Only this capability may be added back under restricted, after dropping ALL.
ADDABLE_CAPABILITIES = {"NET_BIND_SERVICE"}


def pod_spec_of(document: dict[str, Any]) -> PodSpec | None:
    """The pod spec a workload document creates pods from, or None for a document that creates no pod."""
    kind = document.get("kind")
    spec = document.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return spec["template"]["spec"]
    if kind == "CronJob":
        return spec["jobTemplate"]["spec"]["template"]["spec"]
    return None


def containers_of(pod: PodSpec) -> Iterator[tuple[str, dict[str, Any]]]:
    for kind in CONTAINER_KINDS:
        for container in pod.get(kind) or []:
            yield f"{kind}[{container.get('name')}]", container


def _security_contexts(pod: PodSpec) -> Iterator[tuple[str, dict[str, Any]]]:
    yield "spec.securityContext", pod.get("securityContext") or {}
    for where, container in containers_of(pod):
        yield f"{where}.securityContext", container.get("securityContext") or {}


def host_namespaces(pod: PodSpec) -> list[str]:
    return [f"spec.{field} is true" for field in ("hostNetwork", "hostPID", "hostIPC") if pod.get(field)]


def privileged(pod: PodSpec) -> list[str]:
    return [f"{where}.privileged is true" for where, sc in _security_contexts(pod) if sc.get("privileged")]


def host_process(pod: PodSpec) -> list[str]:
    return [
        f"{where}.windowsOptions.hostProcess is true"
        for where, sc in _security_contexts(pod)
        if (sc.get("windowsOptions") or {}).get("hostProcess")
    ]


def volume_types(pod: PodSpec) -> list[str]:
    problems = []
    for volume in pod.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUME_TYPES:
            problems.append(f"volume {volume.get('name')} is of type {sorted(kinds - ALLOWED_VOLUME_TYPES)}")
    return problems


def host_ports(pod: PodSpec) -> list[str]:
    return [
        f"{where} uses hostPort {port['hostPort']}"
        for where, container in containers_of(pod)
        for port in container.get("ports") or []
        if port.get("hostPort")
    ]


def selinux(pod: PodSpec) -> list[str]:
    problems = []
    for where, sc in _security_contexts(pod):
        options = sc.get("seLinuxOptions") or {}
        if options.get("type", "") not in ALLOWED_SELINUX_TYPES:
            problems.append(f"{where}.seLinuxOptions.type is {options['type']}")
        problems += [f"{where}.seLinuxOptions.{field} is set" for field in ("user", "role") if options.get(field)]
    return problems


def proc_mount(pod: PodSpec) -> list[str]:
    return [
        f"{where}.procMount is {sc['procMount']}"
        for where, sc in _security_contexts(pod)
        if sc.get("procMount", "Default") != "Default"
    ]


def sysctls(pod: PodSpec) -> list[str]:
    given = (pod.get("securityContext") or {}).get("sysctls") or []
    return [f"sysctl {s['name']} is not a safe one" for s in given if s["name"] not in SAFE_SYSCTLS]


def apparmor(pod: PodSpec) -> list[str]:
    return [
        f"{where}.appArmorProfile.type is {sc['appArmorProfile'].get('type')}"
        for where, sc in _security_contexts(pod)
        if "appArmorProfile" in sc and sc["appArmorProfile"].get("type") not in ALLOWED_APPARMOR_TYPES
    ]


def allow_privilege_escalation(pod: PodSpec) -> list[str]:
    return [
        f"{where}.securityContext.allowPrivilegeEscalation is not false"
        for where, container in containers_of(pod)
        if (container.get("securityContext") or {}).get("allowPrivilegeEscalation") is not False
    ]


def run_as_non_root(pod: PodSpec) -> list[str]:
    pod_level = (pod.get("securityContext") or {}).get("runAsNonRoot")
    problems = []
    if pod_level is False:
        problems.append("spec.securityContext.runAsNonRoot is false")
    for where, container in containers_of(pod):
        own = (container.get("securityContext") or {}).get("runAsNonRoot")
        if own is False or (own is None and pod_level is not True):
            problems.append(f"{where} may run as root: runAsNonRoot is true neither on it nor on the pod")
    return problems


def run_as_user(pod: PodSpec) -> list[str]:
    return [f"{where}.runAsUser is 0" for where, sc in _security_contexts(pod) if sc.get("runAsUser") == 0]


def seccomp(pod: PodSpec) -> list[str]:
    pod_type = ((pod.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
    problems = []
    if pod_type is not None and pod_type not in ALLOWED_SECCOMP_TYPES:
        problems.append(f"spec.securityContext.seccompProfile.type is {pod_type}")
    for where, container in containers_of(pod):
        own = ((container.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
        if own is not None and own not in ALLOWED_SECCOMP_TYPES:
            problems.append(f"{where}.securityContext.seccompProfile.type is {own}")
        elif own is None and pod_type is None:
            problems.append(f"{where} has no seccompProfile, nor has the pod")
    return problems


def capabilities(pod: PodSpec) -> list[str]:
    problems = []
    for where, container in containers_of(pod):
        caps = (container.get("securityContext") or {}).get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            problems.append(f"{where} does not drop ALL capabilities")
        added = set(caps.get("add") or []) - ADDABLE_CAPABILITIES
        if added:
            problems.append(f"{where} adds capabilities {sorted(added)}")
    return problems


RESTRICTED_RULES: dict[str, Callable[[PodSpec], list[str]]] = {
    # Baseline.
    "host namespaces": host_namespaces,
    "privileged containers": privileged,
    "HostProcess": host_process,
    "host ports": host_ports,
    "SELinux": selinux,
    "/proc mount type": proc_mount,
    "sysctls": sysctls,
    "AppArmor": apparmor,
    # Restricted (HostPath volumes fall under the volume types; non-root groups is an optional rule, left out).
    "volume types": volume_types,
    "privilege escalation": allow_privilege_escalation,
    "running as non-root": run_as_non_root,
    "running as non-root user": run_as_user,
    "seccomp": seccomp,
    "capabilities": capabilities,
}


def restricted_violations(pod: PodSpec) -> dict[str, list[str]]:
    """Each rule of the restricted standard the pod spec breaks, with the problems found; empty when it passes."""
    found = {rule: check(pod) for rule, check in RESTRICTED_RULES.items()}
    return {rule: problems for rule, problems in found.items() if problems}
