"""Pure tensor functions: attention blending, the total variation of masks, and
``blend_tv`` / ``multi_blend_tv``, both in one fused call (Triton kernels on CUDA, see
``set_backend``).

Nothing here knows of modules or training; the adapters and losses build on these.
"""

from attnguide.ops._backend import get_backend, set_backend, use_backend
from attnguide.ops.blend import blend, multi_blend
from attnguide.ops.blend_tv import blend_tv
from attnguide.ops.multi_blend_tv import multi_blend_tv
from attnguide.ops.total_variation import total_variation

__all__ = [
    "blend",
    "blend_tv",
    "get_backend",
    "multi_blend",
    "multi_blend_tv",
    "set_backend",
    "total_variation",
    "use_backend",
]
