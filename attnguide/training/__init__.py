"""Training helpers: the image history pool, the LR schedule, RNG state and checkpoints.

One module per concern: :mod:`~attnguide.training.pool`,
:mod:`~attnguide.training.schedule`, :mod:`~attnguide.training.rng`,
:mod:`~attnguide.training.checkpoint` and :mod:`~attnguide.training.weights` (state dicts
from other projects' files); their public names are re-exported here.
"""

from attnguide.training.augment import augment_pair
from attnguide.training.checkpoint import MANIFEST, is_checkpoint, load_checkpoint, save_checkpoint
from attnguide.training.evallog import EvalLog, read_eval_log
from attnguide.training.pool import ImagePool
from attnguide.training.rng import capture_rng_state, restore_rng_state
from attnguide.training.schedule import linear_decay
from attnguide.training.weights import load_weights, nonfinite_keys, weight_mismatches

__all__ = [
    "MANIFEST",
    "EvalLog",
    "ImagePool",
    "augment_pair",
    "capture_rng_state",
    "is_checkpoint",
    "linear_decay",
    "load_checkpoint",
    "load_weights",
    "nonfinite_keys",
    "read_eval_log",
    "restore_rng_state",
    "save_checkpoint",
    "weight_mismatches",
]
