"""``echoray deploy render | apply | status`` (deploy layer).

``echoray.cli`` registers these with ``add_deploy_commands``. Loading this module imports
no Ray and no kubernetes client: ``apply`` and ``status`` import the client when they run.
Errors a user can fix are ``ConfigError``s; ``echoray.cli`` prints them and exits 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import typing
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from echoray.config import DEFAULT_CONFIG_PATH
from echoray.deploy.render import DESCRIPTIONS, KINDS, Kind, make_documents, render_text
from echoray.deploy.serve_config import load_cluster_config
from echoray.deploy.settings import DeployConfig
from echoray.errors import ConfigError, validation_problems


def add_deploy_commands(parser: argparse.ArgumentParser) -> None:
    """Add ``render``, ``apply`` and ``status`` under ``parser`` (``echoray deploy``)."""
    parser.set_defaults(func=lambda _args: _usage(parser))
    sub = parser.add_subparsers(dest="deploy_command")

    render = sub.add_parser(
        "render",
        help="write KubeRay manifests generated from an echoray config",
        description="Render manifests from a Serve config whose echoray args are the "
        "EchoRayConfig. Kinds: "
        + "; ".join(f"{kind}: {text}" for kind, text in DESCRIPTIONS.items())
        + ". ECHORAY_* variables are not applied.",
    )
    _add_layout_arguments(render)
    render.add_argument("--kind", choices=KINDS, default="rayservice", help="what to render")
    render.add_argument("-o", "--output", type=Path, help="write to this file, not stdout")
    render.add_argument(
        "--committed",
        type=Path,
        metavar="DIR",
        help="rewrite every manifest committed in DIR (kuberay/) from the repository root; "
        "the other options are ignored",
    )
    render.add_argument(
        "--check", action="store_true", help="with --committed: write nothing, exit 1 if stale"
    )
    render.set_defaults(func=_render)

    apply = sub.add_parser(
        "apply",
        help="render the RayService and apply it to the current kube context",
        description="Server-side apply the volume claims and the RayService (or the files "
        "given with -f) through the kubernetes client (pip install 'echoray[k8s]').",
    )
    _add_layout_arguments(apply)
    apply.add_argument(
        "-f", "--filename", type=Path, action="append", help="apply these manifests instead"
    )
    apply.add_argument("--monitoring", action="store_true", help="also apply the PodMonitors")
    apply.add_argument("--context", help="kube context (default: the current one)")
    apply.add_argument("--dry-run", action="store_true", help="server-side dry run only")
    apply.set_defaults(func=_apply)

    status = sub.add_parser(
        "status",
        help="show a RayService's conditions and applications",
        description="Exit status: 0 when the Ready condition is True, 1 when not yet.",
    )
    status.add_argument("--name", default=DeployConfig().name, help="RayService name")
    status.add_argument("--namespace", help="default: the context's namespace")
    status.add_argument("--context", help="kube context (default: the current one)")
    status.set_defaults(func=_status)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _add_layout_arguments(parser: argparse.ArgumentParser) -> None:
    """--config, then one option per ``DeployConfig`` field (``--gpu``, ``--image``, …)."""
    parser.add_argument(
        "--config",
        default=str(DEFAULT_CONFIG_PATH),
        help="Serve config YAML with the echoray args (default: %(default)s)",
    )
    for name, field in DeployConfig.model_fields.items():
        options: dict[str, Any] = {"dest": name, "default": None, "help": field.description}
        annotation = field.annotation
        if annotation is bool:
            options["action"] = "store_true"
        elif annotation is int:
            options["type"] = int
        elif typing.get_origin(annotation) is typing.Literal:
            options["choices"] = typing.get_args(annotation)
        parser.add_argument("--" + name.replace("_", "-"), **options)


def deploy_config_from_args(args: argparse.Namespace) -> DeployConfig:
    """The ``DeployConfig`` the options ask for; unset options keep their defaults.

    Raises:
        ConfigError: an option value is invalid; the message names the option.
    """
    given = {
        name: getattr(args, name)
        for name in DeployConfig.model_fields
        if getattr(args, name, None) is not None
    }
    try:
        return DeployConfig.model_validate(given)
    except ValidationError as exc:
        problems = validation_problems(
            exc.errors(), lambda loc: f"--{str(loc[0]).replace('_', '-')}" if loc else "(options)"
        )
        raise ConfigError(f"invalid deploy options: {problems}") from exc


def _render(args: argparse.Namespace) -> int:
    if args.committed is not None:
        return _render_committed(args.committed, check=args.check)
    kind: Kind = args.kind
    text = render_text(kind, str(args.config), deploy_config_from_args(args))
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
        print(f"echoray: wrote {args.output}", file=sys.stderr)
    return 0


def _render_committed(directory: Path, *, check: bool) -> int:
    from echoray.deploy.committed import committed_differences, render_committed

    if check:
        problems = committed_differences(directory)
        for problem in problems:
            print(f"echoray: {problem}", file=sys.stderr)
        if problems:
            print(f"echoray: run `echoray deploy render --committed {directory}`", file=sys.stderr)
        return 1 if problems else 0
    directory.mkdir(parents=True, exist_ok=True)
    for filename, text in render_committed(directory.resolve().parent).items():
        (directory / filename).write_text(text)
        print(f"echoray: wrote {directory / filename}", file=sys.stderr)
    return 0


def _apply(args: argparse.Namespace) -> int:
    from echoray.deploy import kube
    from echoray.deploy.documents import from_yaml

    deploy = deploy_config_from_args(args)
    if args.filename:
        documents = []
        for path in args.filename:
            try:
                documents += from_yaml(path.read_text())
            except OSError as exc:
                raise ConfigError(f"cannot read {path}: {exc}") from exc
    else:
        config = load_cluster_config(args.config)
        documents = make_documents("rayservice", config, deploy)
        if args.monitoring:
            documents += make_documents("podmonitors", config, deploy)
    cluster = kube.connect(args.context, os.environ)
    namespace = deploy.namespace or cluster.namespace
    if not args.filename:
        kube.check_secret(cluster, deploy.secret_name, namespace, ["api-keys"])
    print(f"echoray: applying to context {cluster.context}, namespace {namespace}")
    for line in kube.apply_documents(cluster, documents, namespace, dry_run=args.dry_run):
        print(f"  {line}")
    if not args.filename and not args.dry_run:
        print(
            f"Next: echoray deploy status --name {deploy.name} --namespace {namespace}\n"
            f"      kubectl -n {namespace} port-forward svc/{deploy.name}-serve-svc 8000:8000"
        )
    return 0


def _status(args: argparse.Namespace) -> int:
    from echoray.deploy import kube
    from echoray.deploy.status import describe_rayservice, rayservice_ready

    cluster = kube.connect(args.context, os.environ)
    rayservice = kube.get_rayservice(cluster, args.name, args.namespace or cluster.namespace)
    print(describe_rayservice(rayservice))
    return 0 if rayservice_ready(rayservice) else 1
