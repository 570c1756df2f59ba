"""Importing the inference package loads no heavy library: torch, transformers and
sentence-transformers are imported by a backend only when it is built, and Django never."""

import subprocess
import sys

from tests.conftest import REPO_ROOT


def test_importing_every_inference_module_loads_no_heavy_library():
    code = (
        "import importlib, pkgutil, sys, inference\n"
        "names = [m.name for m in pkgutil.walk_packages(inference.__path__, 'inference.')]\n"
        "names = [n for n in names if n != 'inference.__main__']  # it runs the CLI\n"
        "assert 'inference.reward_models.embedding' in names, names\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "heavy = {'torch', 'transformers', 'sentence_transformers', 'django'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)
