"""Container images and the versions they pin (deploy layer).

The head and CPU workers run ``rayproject/ray`` with echoray installed on top; GPU workers
run ``rayproject/ray-llm``, whose vLLM is the one Ray's own ``ray[llm]`` extra pins for the
same Ray release (``vllm[audio]==0.29.0`` in ray 2.60.0's wheel metadata). Every image of
one cluster must carry the same Ray and Python versions: Ray refuses mismatched nodes.
ray-llm images are published for Python 3.12 with CUDA 13.0 (``-py312-cu130``) and, as the
build matrix's second variant, for Python 3.11 with CUDA 12.8 (``-py311-cu128``); echoray's
images are Python 3.11, so the GPU base is the ``-py311-cu128`` one. ``kuberay/Dockerfile``
builds both echoray images from these bases.
"""

from __future__ import annotations

RAY_VERSION = "2.60.0"
PYTHON_TAG = "py311"
VLLM_VERSION = "0.29.0"
CPU_BASE_IMAGE = f"rayproject/ray:{RAY_VERSION}-{PYTHON_TAG}"
GPU_BASE_IMAGE = f"rayproject/ray-llm:{RAY_VERSION}-{PYTHON_TAG}-cu128"


def default_image(version: str) -> str:
    """The echoray CPU image name ``kuberay/Dockerfile`` builds by default."""
    return f"echoray:{version}"


def gpu_image_for(image: str) -> str:
    """The GPU twin of an echoray image: ``repo/echoray:0.1.0`` -> ``repo/echoray:0.1.0-gpu``.

    An image without a tag gets the tag ``gpu``; a digest reference cannot be derived.
    """
    if "@" in image:
        raise ValueError(f"cannot derive a GPU image from the digest reference {image!r}")
    name, _, tag = image.rpartition(":")
    if name and "/" not in tag:
        return f"{name}:{tag}-gpu"
    return f"{image}:gpu"
