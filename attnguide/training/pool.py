"""The image history pool that discriminators are updated from (CycleGAN's buffer)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, overload

import torch
from torch import Tensor

from attnguide._validation import (
    check_images_and_masks,
    check_int,
    check_same_dtype_device,
    check_shape,
    check_tensor,
)

__all__ = ["ImagePool"]


class ImagePool:
    """The history of generated images that discriminators are updated from.

    CycleGAN's image buffer (Shrivastava et al., 2017), kept per sample: while the pool
    holds fewer than ``size`` samples, each queried sample is stored and returned as
    is. Once it is full, each sample is, with probability 1/2, swapped for a stored one
    chosen uniformly (the stored one is returned, the new one takes its slot), and
    otherwise returned as is. Training the discriminator on this history rather than
    on the latest generator outputs alone damps oscillations.

    When masks are given, an image and its mask are stored, swapped and returned
    together, so the attention-guided discriminator always sees a matching
    ``[mask, image]`` pair. A pool that has stored pairs must always be given masks,
    and one that has stored images alone must never be.

    Randomness comes from ``generator`` when one is given, else from torch's global
    generator. For each sample queried while the pool is full, one uniform number
    ``u`` is drawn (``torch.rand``); if ``u < 0.5``, one slot index is drawn
    (``torch.randint(size)``). With a seeded generator the pool is therefore
    reproducible, and :meth:`state_dict` includes the generator's state so a resumed
    run continues exactly.

    Args:
        size: How many samples the pool keeps; ``0`` turns it off (queries pass
            through).
        generator: The random generator to draw from, or ``None`` for torch's global
            one.

    Raises:
        TypeError: ``size`` is not an int or ``generator`` not a ``torch.Generator``.
        ValueError: ``size`` is negative.

    Example:
        >>> pool = ImagePool(2, generator=torch.Generator().manual_seed(0))
        >>> fake, mask = torch.randn(4, 3, 8, 8), torch.rand(4, 1, 8, 8)
        >>> images, masks = pool.query(fake, mask)
        >>> images.shape, masks.shape, len(pool)
        (torch.Size([4, 3, 8, 8]), torch.Size([4, 1, 8, 8]), 2)
    """

    def __init__(self, size: int = 50, *, generator: torch.Generator | None = None) -> None:
        self.size = check_int("ImagePool", "size", size, minimum=0)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(
                "ImagePool(): 'generator' must be a torch.Generator or None, "
                f"got {type(generator).__name__}"
            )
        self.generator = generator
        self._images: list[Tensor] = []
        self._masks: list[Tensor] | None = None

    def __len__(self) -> int:
        """The number of samples stored."""
        return len(self._images)

    def __repr__(self) -> str:
        pairs = "" if self._masks is None else ", with masks"
        return f"ImagePool(size={self.size}, stored={len(self)}{pairs})"

    @overload
    def query(self, images: Tensor, masks: None = None) -> Tensor: ...

    @overload
    def query(self, images: Tensor, masks: Tensor) -> tuple[Tensor, Tensor]: ...

    def query(self, images: Tensor, masks: Tensor | None = None) -> Tensor | tuple[Tensor, Tensor]:
        """Stores a batch and returns a batch drawn from it and the history.

        Args:
            images: The generator's latest outputs.
            masks: Their attention masks, or ``None``.

        Returns:
            The batch to train the discriminator on: ``images`` alone, or the pair
            ``(images, masks)`` when masks were given. The returned tensors are new,
            detached from autograd and from the pool's storage, in the inputs' dtype and
            on their device (stored samples follow the device of the latest query).

        Shape:
            - images: ``(b, c, h, w)``
            - masks: ``(b, k, h, w)``
            - output: the same shapes

        Raises:
            TypeError: An input is not a floating-point tensor, or its dtype differs
                from the stored samples'.
            ValueError: Shapes disagree with each other or with the stored samples,
                the inputs are on different devices, or masks are given to a pool of
                images alone (or missing for a pool of pairs).
        """
        fn = "ImagePool.query"
        check_images_and_masks(fn, images, masks)
        images = images.detach()
        masks = None if masks is None else masks.detach()
        if self.size == 0:
            return images.clone() if masks is None else (images.clone(), masks.clone())
        self._check_compatible(fn, images, masks)

        out_images: list[Tensor] = []
        out_masks: list[Tensor] = []
        for i in range(images.shape[0]):
            image, mask = images[i], None if masks is None else masks[i]
            if len(self._images) < self.size:
                self._images.append(image.clone())
                if mask is not None:
                    self._masks = [] if self._masks is None else self._masks
                    self._masks.append(mask.clone())
            elif self._uniform() < 0.5:
                j = self._slot()
                image, self._images[j] = self._images[j], image.clone()
                if mask is not None:
                    assert self._masks is not None
                    mask, self._masks[j] = self._masks[j], mask.clone()
            out_images.append(image)
            if mask is not None:
                out_masks.append(mask)
        # stack copies, so nothing returned aliases the inputs or the pool.
        if masks is None:
            return torch.stack(out_images)
        return torch.stack(out_images), torch.stack(out_masks)

    def _uniform(self) -> float:
        device = "cpu" if self.generator is None else self.generator.device
        return torch.rand((), generator=self.generator, device=device).item()

    def _slot(self) -> int:
        device = "cpu" if self.generator is None else self.generator.device
        return int(torch.randint(self.size, (), generator=self.generator, device=device).item())

    def _check_compatible(self, fn: str, images: Tensor, masks: Tensor | None) -> None:
        if not self._images:
            return
        if (masks is None) != (self._masks is None):
            stored = "images alone" if self._masks is None else "[image, mask] pairs"
            given = "no masks" if masks is None else "masks"
            raise ValueError(
                f"{fn}(): the pool stores {stored} but was given {given}; query it the same "
                "way every time"
            )
        for name, x, stored in (("images", images, self._images), ("masks", masks, self._masks)):
            if x is None or stored is None:
                continue
            ref = stored[0]
            if x.shape[1:] != ref.shape:
                raise ValueError(
                    f"{fn}(): '{name}' has shape {tuple(x.shape)} but the pool stores samples "
                    f"of shape {tuple(ref.shape)} (b {' '.join(map(str, ref.shape))})"
                )
            if x.dtype != ref.dtype:
                raise TypeError(
                    f"{fn}(): '{name}' has dtype {x.dtype} but the pool stores {ref.dtype}"
                )
            if x.device != ref.device:
                stored[:] = [t.to(x.device) for t in stored]

    def state_dict(self) -> dict[str, Any]:
        """The pool's contents and its generator's state, for checkpoints.

        Returns:
            A dict with ``"size"``, ``"images"`` (a stacked tensor, or ``None`` when
            empty), ``"masks"`` (likewise; ``None`` for a pool of images alone) and
            ``"generator"`` (the generator's state, or ``None`` for the global one).
        """
        return {
            "size": self.size,
            "images": torch.stack(self._images) if self._images else None,
            "masks": torch.stack(self._masks) if self._masks else None,
            "generator": None if self.generator is None else self.generator.get_state(),
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restores what :meth:`state_dict` returned, all or nothing.

        Everything is checked before anything changes (the keys, the types, the stored
        samples' shapes, dtypes and devices, the masks against the images, the
        generator state), so a state that is refused leaves the pool as it was.

        Raises:
            TypeError: ``state_dict`` is not a mapping, or an entry has the wrong type.
            ValueError: Keys are missing or unknown, the sizes differ, the stored
                tensors disagree with each other, or the state has a generator state
                and this pool has no generator (or the other way round), or the
                generator state is not one.
        """
        fn = "ImagePool.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{fn}(): expected a mapping, got {type(state_dict).__name__}")
        keys = {"size", "images", "masks", "generator"}
        missing, unknown = keys - set(state_dict), set(state_dict) - keys
        if missing or unknown:
            raise ValueError(
                f"{fn}(): the state must hold exactly the keys {sorted(keys)}; "
                f"missing {sorted(missing)}, unknown {sorted(map(str, unknown))}"
            )
        size = state_dict["size"]
        if isinstance(size, bool) or not isinstance(size, int) or size != self.size:
            raise ValueError(
                f"{fn}(): the state is of a pool of size {size!r}, this pool has size {self.size}"
            )
        images, masks, gen = state_dict["images"], state_dict["masks"], state_dict["generator"]
        if (gen is None) != (self.generator is None):
            has = "has" if gen is not None else "has no"
            ours = "none" if self.generator is None else "one"
            raise ValueError(
                f"{fn}(): the state {has} generator state but this pool has {ours}; create "
                "the pool with a generator exactly when the saved one had one"
            )
        sizes: dict[str, tuple[int, str]] = {}
        if images is not None:
            check_shape(fn, "state_dict['images']", images, "n c h w", sizes)
            if images.shape[0] == 0:
                raise ValueError(f"{fn}(): 'state_dict['images']' is empty; an empty pool is None")
            if images.shape[0] > self.size:
                raise ValueError(
                    f"{fn}(): the state holds {images.shape[0]} images for a pool of size "
                    f"{self.size}"
                )
        if masks is not None:
            if images is None:
                raise ValueError(f"{fn}(): the state holds masks but no images")
            check_shape(fn, "state_dict['masks']", masks, "n k h w", sizes)
            check_same_dtype_device(fn, images=images, masks=masks)
        if gen is not None:
            gen = check_tensor(fn, "state_dict['generator']", gen, floating=False).cpu()
            assert self.generator is not None
            # Tried on a scratch generator first, so a bad state changes nothing.
            scratch = torch.Generator(device=self.generator.device)
            try:
                scratch.set_state(gen)
            except (RuntimeError, TypeError) as err:
                raise ValueError(
                    f"{fn}(): 'state_dict['generator']' is not a generator state: {err}"
                ) from None
        self._images = [] if images is None else list(images.clone().unbind(0))
        self._masks = None if masks is None else list(masks.clone().unbind(0))
        if self.generator is not None:
            self.generator.set_state(gen)
