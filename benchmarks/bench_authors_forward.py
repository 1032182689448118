"""Times one forward pass of the AttentionGAN (scheme II) generator: ours vs the authors'.

Providers, side by side on the same weights and the same input:

- ``authors``: a reference copy of the authors' forward (``ResnetGenerator_our`` of
  Ha0Tang/AttentionGAN's ``models/networks.py``), written here in our words: the same
  layers, then ten ``[:, i:i+1]`` mask slices each repeated to three channels, ten
  products and their sum, and the 30-item tuple it returns;
- ``attnguide``: :class:`attnguide.nets.AttentionGANGenerator`, which validates its
  input and composes through :func:`attnguide.ops.multi_blend_tv` (so it also returns
  the masks' total variation, which the authors' forward does not compute).

Before timing, the two outputs are checked equal (image, masks, contents within 1e-5).
On the CPU the repeats of the two providers alternate after two warm-up calls each, so
a slower stretch of the machine hits both; the table gives the median and minimum per
provider and the ratio of the medians. The JSON in ``benchmarks/results/`` records the
device, the thread count and the versions.

Usage::

    OMP_NUM_THREADS=2 python benchmarks/bench_authors_forward.py            # 256², CPU
    python benchmarks/bench_authors_forward.py --size 128 --repeats 5 --output out.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnguide.nets import AttentionGANGenerator

RESULTS = Path(__file__).resolve().parent / "results"
PROVIDERS = ("authors", "attnguide")


class AuthorsForward(nn.Module):
    """The authors' scheme II forward over the same submodules (so the same state dict
    loads into it); only the forward is theirs, the modules are borrowed from ``net``."""

    def __init__(self, net: AttentionGANGenerator) -> None:
        super().__init__()
        for name, child in net.named_children():
            self.add_module(name, child)

    def forward(self, input: Tensor) -> tuple[Tensor, ...]:
        x = F.pad(input, (3, 3, 3, 3), "reflect")
        x = F.relu(self.conv1_norm(self.conv1(x)))
        x = F.relu(self.conv2_norm(self.conv2(x)))
        x = F.relu(self.conv3_norm(self.conv3(x)))
        x = self.resnet_blocks(x)
        c = F.relu(self.deconv1_norm_content(self.deconv1_content(x)))
        c = F.relu(self.deconv2_norm_content(self.deconv2_content(c)))
        image = torch.tanh(self.deconv3_content(F.pad(c, (3, 3, 3, 3), "reflect")))
        images = [image[:, 3 * i : 3 * i + 3, :, :] for i in range(9)]
        a = F.relu(self.deconv1_norm_attention(self.deconv1_attention(x)))
        a = F.relu(self.deconv2_norm_attention(self.deconv2_attention(a)))
        attention = torch.nn.Softmax(dim=1)(self.deconv3_attention(a))
        attentions = [attention[:, i : i + 1, :, :].repeat(1, 3, 1, 1) for i in range(10)]
        outputs = [images[i] * attentions[i] for i in range(9)]
        outputs.append(input * attentions[9])
        o = outputs[0]
        for term in outputs[1:]:
            o = o + term
        return (o, *outputs, *attentions, *images)


def check_same(ours: Any, theirs: tuple[Tensor, ...]) -> float:
    """The largest difference over image, masks and contents; raises above 1e-5."""
    pairs = [(ours.image, theirs[0])]
    pairs += [(ours.mask[:, i : i + 1], theirs[11 + i][:, :1]) for i in range(10)]
    pairs += [(ours.content[:, i], theirs[21 + i]) for i in range(9)]
    worst = max(float((a - b).abs().max()) for a, b in pairs)
    if worst > 1e-5:
        raise AssertionError(f"ours and the authors' forward differ by {worst:.3g} (> 1e-5)")
    return worst


def environment(threads: int) -> dict[str, Any]:
    env: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": "cpu",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "threads": threads,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cores": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                env["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return env


def format_table(rows: list[dict[str, Any]]) -> str:
    header = ("provider", "size", "batch", "median ms", "min ms", "× authors", "repeats")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        cells = (r["provider"], f"{r['size']}²", r["batch"], f"{r['median_ms']:.1f}")
        cells += (f"{r['min_ms']:.1f}", f"{r['ratio_to_authors']:.3f}", r["repeats"])
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=256, help="image side (default 256)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--ngf", type=int, default=64, help="the authors' default: 64")
    parser.add_argument("--n-blocks", type=int, default=9, help="the authors' default: 9")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per provider")
    parser.add_argument("--threads", type=int, default=None, help="default: torch's setting")
    parser.add_argument("--output", type=Path, default=RESULTS / "authors_forward_cpu.json")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()

    torch.manual_seed(0)
    ours = AttentionGANGenerator(ngf=args.ngf, n_blocks=args.n_blocks).eval()
    theirs = AuthorsForward(ours).eval()
    x = torch.rand(args.batch, 3, args.size, args.size) * 2 - 1
    calls = {"authors": lambda: theirs(x), "attnguide": lambda: ours(x)}
    times: dict[str, list[float]] = {p: [] for p in PROVIDERS}
    with torch.inference_mode():
        max_diff = check_same(ours(x), theirs(x))
        for p in PROVIDERS:
            for _ in range(2):
                calls[p]()
        for _ in range(args.repeats):
            for p in PROVIDERS:
                t0 = time.perf_counter()
                calls[p]()
                times[p].append((time.perf_counter() - t0) * 1e3)

    base = statistics.median(times["authors"])
    rows = [
        {
            "provider": p,
            "size": args.size,
            "batch": args.batch,
            "ngf": args.ngf,
            "n_blocks": args.n_blocks,
            "parameters": sum(t.numel() for t in ours.parameters()),
            "median_ms": round(statistics.median(times[p]), 2),
            "min_ms": round(min(times[p]), 2),
            "times_ms": [round(t, 2) for t in times[p]],
            "repeats": args.repeats,
            "ratio_to_authors": round(statistics.median(times[p]) / base, 4),
            "max_abs_diff_to_authors": max_diff,
        }
        for p in PROVIDERS
    ]
    report = {"environment": environment(threads), "rows": rows}
    print(format_table(rows))
    print(f"outputs equal within {max_diff:.2g}; {threads} thread(s); {report['environment']}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
