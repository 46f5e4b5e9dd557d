"""Fused cross-entropy (train.kernels.cross_entropy) vs the torch reference: ce, z-loss and
dlogits in fp32, with and without soft-capping, ignored rows, a vocabulary that is not a
multiple of the chunk, and large logits; and, on a GPU only, bf16 logits at a realistic
vocabulary. Compiled kernels on ``cuda`` when a GPU is present, Triton's CPU interpreter
otherwise (see kernel_device.py).

Tolerances. fp32: ``atol=1e-5, rtol=1e-5`` on the losses (order 1-10) and ``atol=1e-6,
rtol=1e-4`` on dlogits (entries of order 1 / (N V)); observed differences on CPU are about
1e-7. bf16 logits (GPU): the kernels compute in fp32 and only dlogits is stored in bf16, so
the losses keep ``atol=1e-4, rtol=1e-5`` (32000-term sums) and dlogits gets ``rtol=2**-8``
(twice bf16's rounding) with ``atol=1e-3 max|e|``.
"""

from __future__ import annotations

import pytest
import torch
from kernel_device import DEVICE, requires_compiled  # first: sets TRITON_INTERPRET=1 w/o GPU

from train.kernels.cross_entropy import (
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
    logits = (torch.randn(n, vocab, generator=g) * logit_scale).to(DEVICE)
    labels = torch.randint(0, vocab, (n,), generator=g).to(DEVICE)
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
    logits = torch.randn(6, 20, generator=g).to(DEVICE)
    labels = torch.randint(0, 20, (6,), generator=g).to(DEVICE)
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


@requires_compiled
@pytest.mark.parametrize("softcap", [0.0, 30.0])
def test_bf16_logits_realistic_vocabulary(softcap):
    """bf16 logits (N=256 rows, V=32000, default blocks, a tenth of the rows ignored), with
    and without soft-capping: ce and z-loss against the fp32 reference on the same logits,
    dlogits (bf16) within bf16 rounding of the fp32 reference's."""
    bf16 = torch.bfloat16
    g = torch.Generator().manual_seed(9)
    n, vocab = 256, 32000
    logits = (torch.randn(n, vocab, generator=g) * 4).to(DEVICE, bf16)
    labels = torch.randint(0, vocab, (n,), generator=g).to(DEVICE)
    labels[::10] = IGNORE_INDEX
    ours = logits.clone().requires_grad_(True)
    ref = logits.float().requires_grad_(True)
    ce, z = fused_cross_entropy(ours, labels, softcap=softcap)
    ce_ref, z_ref = cross_entropy_torch(ref, labels, softcap=softcap)
    torch.testing.assert_close(ce, ce_ref, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(z, z_ref, atol=1e-4, rtol=1e-5)
    (ce + 1e-3 * z).backward()
    (ce_ref + 1e-3 * z_ref).backward()
    assert ours.grad.dtype == bf16
    expected = ref.grad
    torch.testing.assert_close(ours.grad.float(), expected, rtol=2**-8,
                               atol=1e-3 * expected.abs().max().item())
    assert ours.grad[::10].abs().max() == 0  # ignored rows get no gradient
