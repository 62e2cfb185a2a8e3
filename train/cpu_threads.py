"""How many CPU threads the training and scoring tools use.

Debian's python3-torch calls the system OpenBLAS for its matrix products,
and OpenBLAS keeps its own pool of threads (one per core unless told), which
torch.set_num_threads leaves alone.  Those threads wait for each other by
spinning on sched_yield: on a machine whose cores are busy with other work,
a step then takes ten times as long as on an idle one.  use_threads sets both
pools to the same count.
"""

import ctypes
import os


def blas_threads(n):
    """Set the thread count of the OpenBLAS loaded in this process; its
    value after, or 0 when no OpenBLAS is loaded."""
    got = 0
    for name in ("libopenblas.so.0", "libblas.so.3"):
        try:
            lib = ctypes.CDLL(name, mode=os.RTLD_NOLOAD)
            lib.openblas_set_num_threads(n)
            got = lib.openblas_get_num_threads()
        except (OSError, AttributeError):
            continue
    return got


def use_threads(n):
    """torch's intra-op threads and OpenBLAS's threads, both n."""
    import torch
    torch.set_num_threads(n)
    blas_threads(n)
