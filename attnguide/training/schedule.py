"""CycleGAN's learning-rate schedule: constant, then linearly down to zero."""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from attnguide._validation import check_int

__all__ = ["linear_decay"]


class _LinearDecay:
    """The LR factor of :func:`linear_decay`; a class so LambdaLR saves its settings."""

    def __init__(self, constant_epochs: int, decay_epochs: int) -> None:
        self.constant_epochs = constant_epochs
        self.decay_epochs = decay_epochs

    def __call__(self, epoch: int) -> float:
        return min(1.0, max(0.0, 1.0 - (epoch - self.constant_epochs) / self.decay_epochs))


def linear_decay(optimizer: Optimizer, *, constant_epochs: int, decay_epochs: int) -> LambdaLR:
    """CycleGAN's learning-rate schedule: constant, then linearly down to zero.

    Call ``scheduler.step()`` once at the end of every epoch. Epoch ``e`` (counted from
    0) trains with ``lr * f(e)``, where ``f`` is 1 up to ``constant_epochs`` and falls
    linearly to 0 at ``constant_epochs + decay_epochs``:
    ``f(e) = clamp(1 - (e - constant_epochs) / decay_epochs, 0, 1)``. After the
    ``constant_epochs + decay_epochs`` epochs of a run, the rate is exactly 0.

    CycleGAN's rule, ``1 - max(0, e + 1 - n_epochs) / (n_epochs_decay + 1)``, is off by
    one: it never reaches 0, its last epoch still trains at ``lr / (n_epochs_decay + 1)``.

    Args:
        optimizer: The optimizer whose learning rates to schedule.
        constant_epochs: Epochs at the full rate before the decay starts (``>= 0``).
        decay_epochs: Epochs over which the rate falls to 0 (``>= 1``).

    Returns:
        A ``LambdaLR`` whose ``state_dict`` includes both settings.

    Raises:
        TypeError: ``optimizer`` is not an optimizer or an epoch count not an int.
        ValueError: An epoch count is out of range.

    Example:
        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = linear_decay(opt, constant_epochs=1, decay_epochs=2)
        >>> rates = []
        >>> for _ in range(4):
        ...     rates.append(sched.get_last_lr()[0])
        ...     opt.step()
        ...     sched.step()
        >>> rates
        [1.0, 1.0, 0.5, 0.0]
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            "linear_decay(): 'optimizer' must be a torch.optim.Optimizer, "
            f"got {type(optimizer).__name__}"
        )
    check_int("linear_decay", "constant_epochs", constant_epochs, minimum=0)
    check_int("linear_decay", "decay_epochs", decay_epochs, minimum=1)
    return LambdaLR(optimizer, _LinearDecay(constant_epochs, decay_epochs))
