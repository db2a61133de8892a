import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, strategies as st

from ganblocks.discriminator import LocalBatchNorm, local_batch_norm
from strategies import runtime_typecheck_disabled, seeds

virtual_batches = st.integers(min_value=1, max_value=5)
group_batches = st.integers(min_value=1, max_value=12)
tokens = st.integers(min_value=1, max_value=9)


def _x(seed, b, c, n):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, c, n, generator=g, dtype=torch.float64) * 3 + 1


@given(seed=seeds, b=group_batches, vb=virtual_batches, n=tokens, data=st.data())
def test_groups_do_not_influence_each_other(seed, b, vb, n, data):
    x = _x(seed, b, 3, n)
    j = data.draw(st.integers(0, b - 1), label="changed sample")
    changed = x.clone()
    changed[j] = _x(seed + 1, 1, 3, n)[0]
    y, y2 = local_batch_norm(x, virtual_batch=vb), local_batch_norm(changed, virtual_batch=vb)
    group = torch.arange(b) // vb
    others = group != group[j]
    torch.testing.assert_close(y[others], y2[others])
    # one value per channel always normalises to 0, and two to ±1 (only their order counts)
    if (~others).sum() * n > 2:
        assert not torch.allclose(y[j], y2[j])


@given(seed=seeds, b=group_batches, vb=virtual_batches, n=tokens)
def test_each_group_is_standardised_per_channel(seed, b, vb, n):
    # also the last, smaller group when b is not a multiple of virtual_batch
    x = _x(seed, b, 4, n)
    y = local_batch_norm(x, virtual_batch=vb, eps=1e-12)
    for start in range(0, b, vb):
        chunk = y[start : start + vb]
        if chunk.shape[0] * n == 1:
            continue  # a single value per channel: zero variance, nothing to standardise
        mean = chunk.mean(dim=(0, 2))
        var = chunk.var(dim=(0, 2), unbiased=False)
        torch.testing.assert_close(mean, torch.zeros_like(mean), atol=1e-9, rtol=0)
        torch.testing.assert_close(var, torch.ones_like(var), atol=1e-9, rtol=0)


@given(seed=seeds, b=group_batches, n=tokens)
def test_one_group_is_training_mode_batch_norm(seed, b, n):
    assume(b * n > 1)  # torch's batch norm refuses a single value per channel
    x = _x(seed, b, 5, n)
    w, bias = torch.randn(5, dtype=x.dtype), torch.randn(5, dtype=x.dtype)
    ours = local_batch_norm(x, virtual_batch=b, weight=w, bias=bias)
    theirs = F.batch_norm(x, None, None, weight=w, bias=bias, training=True, eps=1e-5)
    torch.testing.assert_close(ours, theirs)


def test_module_has_no_running_stats_and_train_equals_eval():
    norm = LocalBatchNorm(6, virtual_batch=2)
    assert set(norm.state_dict()) == {"weight", "bias"}
    with torch.no_grad():
        norm.weight.uniform_(0.5, 2.0)
        norm.bias.normal_()
    x = torch.randn(5, 6, 7)
    y_train = norm.train()(x)
    y_eval = norm.eval()(x)
    torch.testing.assert_close(y_train, y_eval)
    # affine: y = gamma * x_hat + beta
    plain = local_batch_norm(x, virtual_batch=2)
    torch.testing.assert_close(y_eval, plain * norm.weight[:, None] + norm.bias[:, None])


def test_gradients_are_finite_for_every_parameter():
    norm = LocalBatchNorm(3, virtual_batch=4)
    x = torch.randn(6, 3, 5, requires_grad=True)
    (norm(x) * torch.randn(6, 3, 5)).sum().backward()
    for t in (x.grad, norm.weight.grad, norm.bias.grad):
        assert t is not None and torch.isfinite(t).all() and t.abs().sum() > 0


def test_affine_false_has_no_parameters():
    assert list(LocalBatchNorm(3, affine=False).parameters()) == []


def test_bad_inputs_name_what_was_expected():
    norm = LocalBatchNorm(3)
    with runtime_typecheck_disabled():
        with pytest.raises(ValueError, match=r"x has shape \[2, 4, 5\], expected \[\?, 3, \?\]"):
            norm(torch.randn(2, 4, 5))
        with pytest.raises(ValueError, match="expected"):
            norm(torch.randn(2, 3))
    with pytest.raises(ValueError, match="virtual_batch"):
        LocalBatchNorm(3, virtual_batch=0)
    with pytest.raises(ValueError, match="eps"):
        local_batch_norm(torch.randn(2, 3, 4), eps=0.0)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_inputs_are_normalised_in_float32(dtype):
    torch.manual_seed(0)
    x = (torch.randn(8, 4, 6) * 50 + 300).to(dtype)  # a large mean: half-precision statistics would be off
    y = local_batch_norm(x, virtual_batch=4)
    assert y.dtype == torch.float32
    torch.testing.assert_close(y, local_batch_norm(x.float(), virtual_batch=4))
