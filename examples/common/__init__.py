"""What every example of attnguide needs and none of them is about.

A dataclass turned into a command line and checked by its field metadata
(:mod:`common.config`), devices and torchrun's process group (:mod:`common.distributed`),
the run folder (:mod:`common.rundir`), the pieces of a training loop that do not depend
on the model (:mod:`common.loop`) and pictures (:mod:`common.visuals`). The examples
themselves (``aggan/``, ``stargan_aggan/``) hold their model, objective and step; the
library parts they share live in ``attnguide``.
"""
