"""YAML for rendered manifests (deploy layer): the only place that writes them.

Multi-line strings (``serveConfigV2``, ConfigMap files) come out as literal blocks so the
embedded config reads like the file it came from; keys keep the order they were built in.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml


class _ManifestDumper(yaml.SafeDumper):
    """Indents lists under their key, as kubectl and most manifests do, and writes shared
    values out in full (no ``&id001`` anchors)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ManifestDumper.add_representer(str, _represent_str)


def dump_yaml(document: Any) -> str:
    """One document as YAML text, in the same style (``serveConfigV2``, ConfigMap files)."""
    return yaml.dump(
        document,
        Dumper=_ManifestDumper,
        sort_keys=False,
        default_flow_style=False,
        width=100,
        allow_unicode=True,
    )


def to_yaml(documents: Iterable[dict[str, Any]], header: str = "") -> str:
    """The documents as one multi-document YAML text, ``header`` lines as comments."""
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    body = yaml.dump_all(
        list(documents),
        Dumper=_ManifestDumper,
        sort_keys=False,
        default_flow_style=False,
        explicit_start=True,
        width=100,
        allow_unicode=True,
    )
    return comment + body


def from_yaml(text: str) -> list[dict[str, Any]]:
    """The non-empty documents of a multi-document YAML text."""
    return [doc for doc in yaml.safe_load_all(text) if doc]
