"""Devices and DistributedDataParallel: where this process runs and how processes agree.

``torchrun --nproc_per_node=N train.py`` sets ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK``; this module joins the process group they describe (NCCL on GPUs, gloo
on the CPU). Without them the run is one process and every call here is a no-op.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from .config import ConfigError

__all__ = ["Distributed", "autocast", "cpu_has_bf16", "resolve_device", "setup_distributed"]


@dataclass
class Distributed:
    """Where this process stands in a (possibly one-process) run."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def any(self, flag: bool, device: torch.device) -> bool:
        """Whether ``flag`` is set on any process (all must call it)."""
        if not self.enabled:
            return flag
        t = torch.tensor([int(flag)], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def gather(self, obj: Any) -> list[Any] | None:
        """Every process's ``obj``, indexed by rank, on rank 0 (None elsewhere).

        Objects travel pickled between the processes of this run (never from disk).
        """
        if not self.enabled:
            return [obj]
        out: list[Any] | None = [None] * self.world if self.main else None
        dist.gather_object(obj, out, dst=0)
        return out

    def same_weights(self, module: nn.Module) -> bool:
        """Whether every process holds bit-identical parameters (True without DDP)."""
        if not self.enabled:
            return True
        flat = torch.cat([p.detach().reshape(-1).float() for p in module.parameters()])
        reference = flat.clone()
        dist.broadcast(reference, src=0)
        same = torch.tensor([int(torch.equal(reference, flat))], device=flat.device)
        dist.all_reduce(same, op=dist.ReduceOp.MIN)
        return bool(same.item())

    def check_same_weights(self, module: nn.Module) -> None:
        """Says (rank 0) whether every process ended with the same weights, and raises
        if not (all must call it; nothing happens without several processes).

        Raises:
            RuntimeError: the processes' weights diverged.
        """
        if not self.enabled:
            return
        same = self.same_weights(module)
        if self.main:
            print(
                f"weights identical on all {self.world} processes: {'yes' if same else 'NO'}",
                flush=True,
            )
        if not same:
            raise RuntimeError("the processes' weights diverged; the gradient averaging broke")

    def close(self) -> None:
        """Leaves the process group once every process is done (all must call it).

        Without it a process that finishes first tears the group down while the others
        still use it, which can abort them ("terminate called without an active
        exception").
        """
        if self.enabled and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()

    def average_gradients(self, params: list[nn.Parameter]) -> None:
        """Averages the parameters' gradients over the processes (all must call it).

        What DistributedDataParallel does in its backward hooks, done after the
        backward: it also covers a loss with a double backward, such as WGAN-GP's
        gradient penalty, which DistributedDataParallel does not support.
        """
        if not self.enabled:
            return
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()

    def wrap(self, module: nn.Module, device: torch.device) -> nn.Module:
        """``module`` as DistributedDataParallel when there are several processes."""
        if not self.enabled:
            return module
        ids = [device.index] if device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def resolve_device(name: str, amp: str = "none", local_rank: int = 0) -> torch.device:
    """The device ``name`` names ("auto": CUDA when available), checked.

    Raises:
        ConfigError: CUDA is asked for but absent, or ``--amp bf16`` without CUDA.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"--device {name!r} is not a device (try cpu, cuda, cuda:1)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {name}: CUDA is not available on this machine")
        if device.index is None:
            device = torch.device("cuda", local_rank)
        elif device.index >= torch.cuda.device_count():
            raise ConfigError(
                f"--device {name}: this machine has {torch.cuda.device_count()} CUDA devices"
            )
    elif device.type != "cpu":
        raise ConfigError(f"--device {name!r}: only cpu and cuda devices are supported")
    if amp == "bf16" and device.type == "cpu" and not cpu_has_bf16():
        raise ConfigError(
            "--amp bf16 on the CPU needs bfloat16 kernels (AVX-512 BF16 or AMX), which this "
            "CPU lacks; drop --amp (train in float32) or run on a GPU"
        )
    return device


def autocast(device: torch.device, amp: str) -> contextlib.AbstractContextManager:
    """The context the forward passes run in for ``--amp``: bfloat16 autocast on
    ``device`` for ``"bf16"``, nothing for ``"none"``. Reusable: enter it every step."""
    if amp == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def cpu_has_bf16() -> bool:
    """Whether oneDNN can run bfloat16 convolutions natively on this CPU."""
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"the environment variable {name}={raw!r} is not an integer") from None


def setup_distributed(device_name: str, amp: str) -> tuple[Distributed, torch.device]:
    """Joins the process group torchrun set up, if any, and picks this rank's device."""
    d = Distributed(
        rank=_env_int("RANK", 0),
        world=_env_int("WORLD_SIZE", 1),
        local_rank=_env_int("LOCAL_RANK", 0),
    )
    device = resolve_device(device_name, amp, d.local_rank)
    if d.enabled and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
            dist.init_process_group("nccl", device_id=device)
        else:
            dist.init_process_group("gloo")
    return d, device


def to_cpu(state: dict[str, Any]) -> dict[str, Any]:
    """A state dict's top-level tensors moved to the CPU (for gathering)."""
    return {k: v.cpu() if isinstance(v, Tensor) else v for k, v in state.items()}
