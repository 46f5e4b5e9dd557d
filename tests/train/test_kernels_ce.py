"""Fused cross-entropy (train.kernels.cross_entropy) vs the torch reference on the CPU
interpreter: ce, z-loss and dlogits in fp32, with and without soft-capping, ignored rows, a
vocabulary that is not a multiple of the chunk, and large logits.

Tolerances (fp32): ``atol=1e-5, rtol=1e-5`` on the losses (order 1-10) and ``atol=1e-6,
rtol=1e-4`` on dlogits (entries of order 1 / (N V)); observed differences are about 1e-7.
"""

from __future__ import annotations

import os

os.environ["TRITON_INTERPRET"] = "1"  # must precede the first import of train.kernels

import pytest  # noqa: E402
import torch  # noqa: E402

from train.kernels.cross_entropy import (  # noqa: E402
    IGNORE_INDEX,
    cross_entropy_torch,
    fused_cross_entropy,
)

pytestmark = pytest.mark.triton


@pytest.mark.parametrize(
    ("n", "vocab", "softcap", "logit_scale", "block_v"),
    [
        (13, 50, 0.0, 1.0, 16),  # vocabulary not a multiple of the chunk
        (13, 50, 5.0, 3.0, 32),  # soft-capping with logits beyond the cap
        (17, 37, 0.0, 60.0, 16),  # large logits: the online max keeps exp in range
        (5, 16, 30.0, 1.0, 16),  # one chunk, cap far above the logits
    ],
)
def test_fused_cross_entropy_matches_reference(n, vocab, softcap, logit_scale, block_v):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(n, vocab, generator=g) * logit_scale
    labels = torch.randint(0, vocab, (n,), generator=g)
    labels[1] = IGNORE_INDEX
    labels[-1] = IGNORE_INDEX
    ours = logits.clone().requires_grad_(True)
    ref = logits.clone().requires_grad_(True)
    ce, z = fused_cross_entropy(ours, labels, softcap=softcap, block_v=block_v)
    ce_ref, z_ref = cross_entropy_torch(ref, labels, softcap=softcap)
    torch.testing.assert_close(ce, ce_ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(z, z_ref, atol=1e-5, rtol=1e-5)
    (ce + 0.1 * z).backward()
    (ce_ref + 0.1 * z_ref).backward()
    torch.testing.assert_close(ours.grad, ref.grad, atol=1e-6, rtol=1e-4)
    assert ours.grad[1].abs().max() == 0  # ignored rows get no gradient


def test_each_loss_alone_and_bad_arguments():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(6, 20, generator=g)
    labels = torch.randint(0, 20, (6,), generator=g)
    for pick in (0, 1):
        ours = logits.clone().requires_grad_(True)
        ref = logits.clone().requires_grad_(True)
        fused_cross_entropy(ours, labels, softcap=4.0)[pick].backward()
        cross_entropy_torch(ref, labels, softcap=4.0)[pick].backward()
        torch.testing.assert_close(ours.grad, ref.grad, atol=1e-6, rtol=1e-4)
    with pytest.raises(ValueError, match="block_v"):
        fused_cross_entropy(logits, labels, block_v=24)
    with pytest.raises(ValueError, match="labels"):
        fused_cross_entropy(logits, labels[:3])
