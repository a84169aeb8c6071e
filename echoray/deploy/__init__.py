"""Kubernetes deployment through KubeRay (deploy layer, beside ``serve/``).

``echoray deploy render`` turns the same ``EchoRayConfig`` that ``echoray serve`` runs into
KubeRay manifests: a RayService whose ``serveConfigV2`` is that config, RayJobs for the
batch jobs, PodMonitors, and the volumes and Secret they use. Rendering is pure (config in,
plain dicts out: ``make_*`` in the modules here); YAML writing lives in ``documents``; only
``kube`` talks to a cluster, through the optional ``kubernetes`` client
(``pip install 'echoray[k8s]'``), imported when a command needs it. Nothing here imports
Ray.
"""
