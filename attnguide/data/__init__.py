"""Data: unpaired image folders in the CycleGAN layout and the synthetic faces data set.

Nothing here needs Pillow at import time; reading or writing image files does
(``pip install "attnguide[examples]"``).
"""

from attnguide.data.folder import IMG_EXTENSIONS, UnpairedImageFolder, load_rgb
from attnguide.data.synthetic_faces import FacePairs, make_synthetic_faces, render_face_pairs

__all__ = [
    "IMG_EXTENSIONS",
    "FacePairs",
    "UnpairedImageFolder",
    "load_rgb",
    "make_synthetic_faces",
    "render_face_pairs",
]
