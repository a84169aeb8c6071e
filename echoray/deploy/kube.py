"""Talking to a cluster (deploy layer): the only module that imports the ``kubernetes``
client, and only inside its functions, so ``echoray deploy render`` works without it.

Every failure a user can fix (no client installed, no kube context, no KubeRay CRDs, no
Secret, an API error) becomes a ``ConfigError`` whose message says what to do.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from echoray.errors import ConfigError

FIELD_MANAGER = "echoray"
INSTALL_HINT = "pip install 'echoray[k8s]'"


@dataclass(frozen=True)
class Cluster:
    """A connected API client and the namespace of the chosen context."""

    api_client: Any
    namespace: str
    context: str


def connect(context: str | None, environ: Mapping[str, str]) -> Cluster:
    """Connect through ``KUBECONFIG`` (or ``~/.kube/config``) to ``context``, by default
    the current one; inside a pod without a kubeconfig, through the service account.

    Raises:
        ConfigError: the kubernetes client is missing, or there is no usable context.
    """
    try:
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException
    except ImportError as exc:
        raise ConfigError(f"the kubernetes client is not installed: {INSTALL_HINT}") from exc
    kubeconfig = environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    configuration = client.Configuration()
    try:
        config.load_kube_config(
            config_file=kubeconfig,
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
    except (ConfigException, OSError) as exc:
        if context is None and environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config(client_configuration=configuration)
            return Cluster(client.ApiClient(configuration), "default", "in-cluster")
        wanted = f"context {context!r}" if context else "a current context"
        raise ConfigError(
            f"no Kubernetes context: the kubeconfig {kubeconfig} has no {wanted} ({exc}). "
            "Point KUBECONFIG at a cluster's kubeconfig, pick a context with "
            "`kubectl config use-context NAME`, or pass --context NAME"
        ) from exc
    namespace, name = _context_namespace(config, ConfigException, kubeconfig, context)
    return Cluster(client.ApiClient(configuration), namespace, name)


def _context_namespace(
    config: Any, config_exception: type[Exception], kubeconfig: str, context: str | None
) -> tuple[str, str]:
    try:
        contexts, current = config.list_kube_config_contexts(config_file=kubeconfig)
    except config_exception:
        return "default", context or "?"
    chosen = next((c for c in contexts if c["name"] == context), current) if context else current
    return (chosen.get("context") or {}).get("namespace") or "default", chosen["name"]


def check_secret(cluster: Cluster, name: str, namespace: str, keys: list[str]) -> None:
    """Raise ``ConfigError`` unless Secret ``name`` exists and holds ``keys``."""
    from kubernetes import client

    missing_secret = (
        f"Secret {name!r} not found in namespace {namespace!r}; create it first: "
        f"kubectl -n {namespace} create secret generic {name} "
        '--from-literal=api-keys=\'{"<key>": "<tenant>"}\' (see the README)'
    )
    with _api_call(f"reading Secret {name!r}", not_found=missing_secret):
        secret = client.CoreV1Api(cluster.api_client).read_namespaced_secret(name, namespace)
    missing = [key for key in keys if key not in (secret.data or {})]
    if missing:
        raise ConfigError(f"Secret {name!r} in namespace {namespace!r} lacks keys {missing}")


def apply_documents(
    cluster: Cluster, documents: list[dict[str, Any]], namespace: str, *, dry_run: bool
) -> list[str]:
    """Server-side apply each document, in order; return one line per object.

    Raises:
        ConfigError: a kind is unknown to the cluster (e.g. KubeRay's CRDs are not
            installed) or the API server refuses an object.
    """
    from kubernetes.dynamic import DynamicClient
    from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError

    with _api_call("discovering the cluster's API"):
        dynamic = DynamicClient(cluster.api_client)
    lines = []
    for document in documents:
        api_version, kind = document["apiVersion"], document["kind"]
        name = document["metadata"]["name"]
        try:
            with _api_call(f"looking up {kind}"):
                resource = dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError as exc:
            hint = (
                "install the KubeRay operator and its CRDs first (see the README)"
                if api_version.startswith("ray.io/")
                else "install the operator that defines it first"
            )
            raise ConfigError(f"the cluster has no {kind} ({api_version}): {hint}") from exc
        target = document["metadata"].get("namespace", namespace) if resource.namespaced else None
        with _api_call(f"applying {kind} {name!r}"):
            try:
                dynamic.server_side_apply(
                    resource,
                    body=document,
                    namespace=target,
                    field_manager=FIELD_MANAGER,
                    force_conflicts=True,
                    dry_run="All" if dry_run else None,
                )
            except DynamicApiError as exc:  # says which field the server refused
                raise ConfigError(f"applying {kind} {name!r} failed: {exc.summary()}") from exc
        suffix = " (server dry run)" if dry_run else ""
        lines.append(f"{kind.lower()}/{name} applied in {target or 'the cluster'}{suffix}")
    return lines


def get_rayservice(cluster: Cluster, name: str, namespace: str) -> dict[str, Any]:
    """The RayService object as a dict.

    Raises:
        ConfigError: it does not exist, or the API server refuses the read.
    """
    from kubernetes import client

    not_found = (
        f"RayService {name!r} not found in namespace {namespace!r} (or the KubeRay CRDs are "
        "not installed); `echoray deploy apply` creates it"
    )
    api = client.CustomObjectsApi(cluster.api_client)
    with _api_call(f"reading RayService {name!r}", not_found=not_found):
        found: Any = api.get_namespaced_custom_object(
            "ray.io", "v1", namespace, "rayservices", name
        )
    return dict(found)


@contextmanager
def _api_call(doing: str, not_found: str | None = None) -> Iterator[None]:
    """Turn the client's errors into ``ConfigError``: HTTP errors and an unreachable server."""
    from kubernetes import client
    from urllib3.exceptions import HTTPError

    try:
        yield
    except client.ApiException as exc:
        if exc.status == 404 and not_found:
            raise ConfigError(not_found) from exc
        raise ConfigError(f"{doing} failed: HTTP {exc.status} {exc.reason}") from exc
    except HTTPError as exc:
        raise ConfigError(
            f"{doing} failed: cannot reach the Kubernetes API server ({exc})"
        ) from exc
