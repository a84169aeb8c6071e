import subprocess
import sys


def test_import_echoray_loads_no_heavy_library() -> None:
    code = (
        "import sys, echoray, echoray.config, echoray.errors, echoray.protocol.openai, echoray.cli;"
        "heavy = ('ray', 'torch', 'vllm', 'lancedb', 'transformers');"
        "heavy = [m for m in heavy if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
