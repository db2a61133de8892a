import pytest
import torch
from hypothesis import given, strategies as st

from ganblocks.discriminator import DiscriminatorHead, MultiHeadDiscriminator
from strategies import runtime_typecheck_disabled, seeds

head_channels = st.sampled_from([4, 8, 12])
head_tokens = st.integers(min_value=2, max_value=16)  # also fewer tokens than the kernel
head_kernels = st.sampled_from([1, 3, 5, 9])
c_dims = st.sampled_from([0, 3, 8])


def _head(seed, channels, c_dim, kernel_size=9, virtual_batch=8):
    torch.manual_seed(seed)
    head = DiscriminatorHead(channels, c_dim, cmap_dim=16, kernel_size=kernel_size, virtual_batch=virtual_batch)
    return head.double().eval()  # eval: spectral norm keeps its power-iteration vectors fixed


def _inputs(seed, b, n, channels, c_dim):
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(b, n, channels, generator=g, dtype=torch.float64)
    c = torch.randn(b, c_dim, generator=g, dtype=torch.float64)
    return x, c


@given(seed=seeds, b=st.integers(1, 4), n=head_tokens, channels=head_channels, k=head_kernels,
       c_dim=c_dims, data=st.data())
def test_circular_token_shift_shifts_the_logits(seed, b, n, channels, k, c_dim, data):
    head = _head(seed, channels, c_dim, kernel_size=k)
    x, c = _inputs(seed, b, n, channels, c_dim)
    shift = data.draw(st.integers(1, n - 1), label="shift")
    logits = head(x, c)
    shifted = head(torch.roll(x, shift, dims=1), c)
    torch.testing.assert_close(shifted, torch.roll(logits, shift, dims=1))


@given(seed=seeds, vb=st.integers(1, 3), groups=st.integers(2, 3), data=st.data())
def test_samples_in_other_virtual_batch_groups_do_not_matter(seed, vb, groups, data):
    head = _head(seed, 8, 3, virtual_batch=vb)
    b = vb * groups - data.draw(st.integers(0, vb - 1), label="short last group")
    x, c = _inputs(seed, b, 6, 8, 3)
    j = data.draw(st.integers(0, b - 1), label="changed sample")
    x2, c2 = x.clone(), c.clone()
    x2[j], c2[j] = torch.randn_like(x2[j]), torch.randn_like(c2[j])
    y, y2 = head(x, c), head(x2, c2)
    other = (torch.arange(b) // vb) != j // vb
    torch.testing.assert_close(y[other], y2[other])
    assert not torch.allclose(y[j], y2[j])


@given(seed=seeds)
def test_logits_depend_on_c_linearly_through_the_projection(seed):
    head = _head(seed, 8, 5)
    x, c = _inputs(seed, 3, 7, 8, 5)
    y = head(x, c)
    assert not torch.allclose(y, head(x, c + torch.randn_like(c)))
    with torch.no_grad():  # logit = <out, A c + a> / sqrt(m): doubling A and a doubles it
        head.cmapper.weight.mul_(2)
        head.cmapper.bias.mul_(2)
    torch.testing.assert_close(head(x, c), 2 * y)


def test_unconditional_head_ignores_c():
    head = _head(0, 8, 0)
    x, _ = _inputs(0, 2, 5, 8, 0)
    assert head.cmapper is None
    torch.testing.assert_close(head(x), head(x, torch.zeros(2, 0, dtype=x.dtype)))


def test_spectral_norm_bounds_every_conv():
    head = DiscriminatorHead(16, 4, kernel_size=3).train()
    x, c = torch.randn(8, 10, 16), torch.randn(8, 4)
    for _ in range(20):  # each training-mode call runs one power iteration
        head(x, c)
    convs = [m for m in head.modules() if isinstance(m, torch.nn.Conv1d)]
    assert len(convs) == 3
    for conv in convs:
        sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2)
        assert abs(sigma.item() - 1) < 1e-2


def test_paper_sized_heads_have_the_paper_parameter_count():
    d = MultiHeadDiscriminator([384] * 5, 768)
    per_head = [sum(p.numel() for p in h.parameters()) for h in d.heads]
    assert per_head == [1_550_720] * 5  # ~1.55 M per head, as in StyleGAN-T
    assert sum(p.numel() for p in d.parameters()) == 7_753_600  # ~7.75 M in all


def test_multi_head_concatenates_per_map_logits_in_order():
    torch.manual_seed(0)
    d = MultiHeadDiscriminator([4, 6], 3, cmap_dim=8).eval()
    feats = [torch.randn(2, 5, 4), torch.randn(2, 7, 6)]
    c = torch.randn(2, 3)
    out = d(feats, c)
    assert out.shape == (2, 12)
    torch.testing.assert_close(out, torch.cat([d.heads[0](feats[0], c), d.heads[1](feats[1], c)], 1))


def test_every_parameter_gets_a_finite_gradient():
    d = MultiHeadDiscriminator([4, 4], 3, cmap_dim=8, virtual_batch=2)
    feats = [torch.randn(4, 6, 4, requires_grad=True) for _ in range(2)]
    d(feats, torch.randn(4, 3)).square().mean().backward()
    for name, p in d.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    assert all(f.grad is not None for f in feats)


def test_bad_inputs_name_what_was_expected():
    d = MultiHeadDiscriminator([4, 6], 3)
    good = [torch.randn(2, 5, 4), torch.randn(2, 5, 6)]
    with runtime_typecheck_disabled():
        with pytest.raises(ValueError, match="expected 2 feature maps, got 1"):
            d(good[:1], torch.randn(2, 3))
        with pytest.raises(ValueError, match=r"features\[1\] has shape \[2, 5, 5\], expected \[2, \?, 6\]"):
            d([good[0], torch.randn(2, 5, 5)], torch.randn(2, 3))
        with pytest.raises(ValueError, match=r"c has shape \[2, 4\], expected \[2, 3\]"):
            d(good, torch.randn(2, 4))
        with pytest.raises(ValueError, match="c is required"):
            d(good)
    with pytest.raises(ValueError, match="odd"):
        DiscriminatorHead(4, 3, kernel_size=4)


def test_bf16_compute_tracks_float32_and_returns_float32_logits():
    torch.manual_seed(0)
    d32 = MultiHeadDiscriminator([16, 16], 8, cmap_dim=8).eval()
    d16 = MultiHeadDiscriminator([16, 16], 8, cmap_dim=8, compute_dtype=torch.bfloat16).eval()
    d16.load_state_dict(d32.state_dict())
    feats = [torch.randn(8, 12, 16, requires_grad=True) for _ in range(2)]
    c = torch.randn(8, 8)
    ref, out = d32(feats, c), d16(feats, c)
    assert out.dtype == torch.float32
    rel = (out - ref).norm() / ref.norm()
    assert 0 < rel < 0.03  # bf16 has an 8-bit mantissa: close, but really computed in bf16
    (grad,) = torch.autograd.grad(out.sum(), feats[0])
    (ref_grad,) = torch.autograd.grad(ref.sum(), feats[0])
    assert grad.dtype == torch.float32
    assert (grad - ref_grad).norm() / ref_grad.norm() < 0.05
    # same numbers as the whole head under an ambient autocast
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ambient = d32(feats, c)
    torch.testing.assert_close(ambient, out)


def test_spectral_norm_stays_in_float32_under_autocast():
    torch.manual_seed(0)
    plain = DiscriminatorHead(16, 4, kernel_size=3).train()
    mixed = DiscriminatorHead(16, 4, kernel_size=3, compute_dtype=torch.bfloat16).train()
    mixed.load_state_dict(plain.state_dict())
    x, c = torch.randn(8, 10, 16), torch.randn(8, 4)
    for _ in range(5):  # each training-mode call runs one power iteration, the same in both
        plain(x, c)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed(x, c)
    for (name, a), b in zip(plain.state_dict().items(), mixed.state_dict().values()):
        assert a.dtype == b.dtype == torch.float32, name
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_compute_dtype_must_be_floating_point():
    with pytest.raises(ValueError, match="floating-point"):
        MultiHeadDiscriminator([4], 3, compute_dtype=torch.int8)


@given(seed=seeds, n=st.integers(2, 12), shift=st.integers(1, 11))
def test_position_embeddings_let_the_head_see_where_a_token_is(seed, n, shift):
    # the faithful head only sees what a token shows; with tokens=n it also sees where it is,
    # so shifting the tokens is no longer the same as shifting the logits
    torch.manual_seed(seed)
    head = DiscriminatorHead(8, 3, cmap_dim=16, kernel_size=3, tokens=n).double().eval()
    with torch.no_grad():
        head.position.normal_()
    x, c = _inputs(seed, 2, n, 8, 3)
    shift = 1 + (shift - 1) % (n - 1)
    shifted = head(torch.roll(x, shift, dims=1), c)
    assert not torch.allclose(shifted, torch.roll(head(x, c), shift, dims=1))
    assert head.position.shape == (8, n)


def test_position_embeddings_are_trained_and_fix_the_token_count():
    heads = MultiHeadDiscriminator([8, 8], 3, cmap_dim=16, kernel_size=3, tokens=[5, 7])
    x, c = [torch.randn(4, 5, 8), torch.randn(4, 7, 8)], torch.randn(4, 3)
    heads(x, c).square().mean().backward()
    for head in heads.heads:
        assert head.position.grad is not None and head.position.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="7"):
        heads([torch.randn(4, 5, 8), torch.randn(4, 6, 8)], c)
    with pytest.raises(ValueError, match="tokens names 1 maps"):
        MultiHeadDiscriminator([8, 8], 3, tokens=[5])
    with pytest.raises(ValueError, match="tokens must be positive"):
        DiscriminatorHead(8, 3, tokens=0)
    # off by default: the faithful heads have no extra parameters
    assert not any("position" in k for k in MultiHeadDiscriminator([8], 3).state_dict())
