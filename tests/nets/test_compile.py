"""torch.compile parity on the CPU; each compile costs seconds, so the models are tiny."""

from __future__ import annotations

import pytest
import torch

from attnguide.nets import PatchDiscriminator, ResnetGenerator

# aot_eager traces the same graph (fullgraph: any break fails) and runs it without
# generating code, in seconds; inductor's generated kernels take ~30 s on two cores.
BACKENDS = ["aot_eager", pytest.param("inductor", marks=pytest.mark.slow)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_compiled_networks_match_eager(backend: str) -> None:
    g = ResnetGenerator(3, 3, ngf=4, n_blocks=1).eval()
    # Every layer kind of the discriminator, and the einops head, with the fewest layers.
    d = PatchDiscriminator(3, ndf=4, n_layers=1, head="pool").eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        # One graph for both networks keeps the compile to a single, cheaper run.
        compiled = torch.compile(
            lambda x: (g(x), d(x)), fullgraph=True, dynamic=False, backend=backend
        )
        image, score = compiled(x)
        torch.testing.assert_close(image, g(x), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(score, d(x), rtol=1e-4, atol=1e-5)
