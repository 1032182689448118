"""Pure tensor functions: attention blending and the total variation of masks.

Nothing here knows of modules or training; the adapters and losses build on these.
"""

from attnguide.ops.blend import blend, multi_blend
from attnguide.ops.total_variation import total_variation

__all__ = ["blend", "multi_blend", "total_variation"]
