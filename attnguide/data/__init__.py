"""Data: image files, unpaired and multi-domain image folders, a resumable sampler,
synthetic faces.

Nothing here needs Pillow at import time; reading or writing image files does
(``pip install "attnguide[examples]"``).
"""

from attnguide.data.folder import DomainImageFolder, UnpairedImageFolder
from attnguide.data.io import (
    IMG_EXTENSIONS,
    list_images,
    load_rgb,
    read_image,
    read_mask,
    save_image,
    to_uint8,
)
from attnguide.data.sampler import EpochSampler
from attnguide.data.synthetic_faces import (
    FacePairs,
    make_expression_faces,
    make_synthetic_faces,
    render_expressions,
    render_face_pairs,
)

__all__ = [
    "IMG_EXTENSIONS",
    "DomainImageFolder",
    "EpochSampler",
    "FacePairs",
    "UnpairedImageFolder",
    "list_images",
    "load_rgb",
    "make_expression_faces",
    "make_synthetic_faces",
    "read_image",
    "read_mask",
    "render_expressions",
    "render_face_pairs",
    "save_image",
    "to_uint8",
]
