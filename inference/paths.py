"""Where the files read at run time live: the shared folder beside the repository (`../shared`,
or `$CG_SHARED_DIR`), which holds the question bank. Nothing there is copied into the project."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """`$CG_SHARED_DIR`, else `../shared` beside the repository."""
    return Path(os.environ.get("CG_SHARED_DIR") or REPO_ROOT.parent / "shared")


def question_bank_path() -> Path:
    """The Habermas Machine question bank, `data/hm_questions.json` in the shared folder."""
    return shared_dir() / "data" / "hm_questions.json"
