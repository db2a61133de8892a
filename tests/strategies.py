"""Shared hypothesis strategies: draw seeds and sizes, never float arrays."""

from hypothesis import strategies as st

seeds = st.integers(min_value=0, max_value=2**31 - 1)
batch_sizes = st.integers(min_value=1, max_value=4)
channels = st.sampled_from([1, 2, 3, 4, 8, 16])
group_norm_channels = st.sampled_from([32, 64])
spatial = st.sampled_from([4, 5, 8, 12])
kernel_sizes = st.sampled_from([1, 3])
w_dims = st.integers(min_value=1, max_value=24)
