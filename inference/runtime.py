"""Process-level settings of the inference library: how many CPU threads torch may use.

Nothing here imports torch unless it is already loaded: a process that never builds a torch
backend (a web process, a worker with HTTP backends) never pays for it.
"""

from __future__ import annotations

import os
import sys

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def torch_threads_set(threads: int) -> int | None:
    """Limit torch (and the BLAS libraries under it) to `threads` CPU threads in this process.

    The environment variables take effect when torch is first imported later; if torch is
    already imported, its intra-op thread count is set now. Returns torch's thread count when
    torch is loaded, else None."""
    if threads < 1:
        raise ValueError(f"torch threads must be at least 1, not {threads}")
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    torch.set_num_threads(threads)
    return torch.get_num_threads()
