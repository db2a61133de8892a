"""decode_image, to_rgb, center_crop_resize, clean_caption: every format becomes the trainer's."""

import io
import unicodedata

import numpy as np
import pytest
import torch
from data_samples import LONG_CAPTION, ODD_CAPTION, png16
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from ganblocks.data import MAX_CAPTION_CHARS, BadSampleError, clean_caption, decode_image

sizes = st.integers(min_value=1, max_value=120)
resolutions = st.sampled_from([1, 8, 16, 32, 33, 64])
rgb = st.tuples(*[st.integers(0, 255)] * 3)


def encode(image: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kw)
    return buffer.getvalue()


@given(w=sizes, h=sizes, resolution=resolutions, colour=rgb, mode=st.sampled_from(["RGB", "RGBA", "P", "CMYK"]))
def test_constant_image_of_any_size_and_mode_decodes_to_the_same_constant(w, h, resolution, colour, mode):
    image = Image.new("RGB", (w, h), colour)
    if mode == "P":
        image = image.convert("P", palette=Image.Palette.ADAPTIVE)
    else:
        image = image.convert(mode)  # RGBA: opaque, the background must not show
    x = decode_image(encode(image, "TIFF" if mode == "CMYK" else "PNG"), resolution=resolution)
    assert x.dtype == torch.uint8 and x.shape == (3, resolution, resolution)
    expected = torch.tensor(image.convert("RGB").getpixel((0, 0)))
    assert (x.int() - expected.view(3, 1, 1)).abs().max() <= 1


@given(short=st.integers(4, 60), extra=st.integers(1, 60), wide=st.booleans(), resolution=resolutions)
def test_centre_crop_keeps_only_the_central_square(short, extra, wide, resolution):
    side = short + 2 * extra
    w, h = (side, short) if wide else (short, side)
    a = np.zeros((h, w, 3), np.uint8)
    a[..., 0] = 255  # red bands ...
    if wide:
        a[:, extra:extra + short] = (0, 200, 0)  # ... around a green central square
    else:
        a[extra:extra + short, :] = (0, 200, 0)
    x = decode_image(encode(Image.fromarray(a)), resolution=resolution)
    assert int(x[0].max()) == 0 and int(x[1].min()) >= 199


def test_grey_rgba_and_palette_become_rgb() -> None:
    grey = decode_image(encode(Image.new("L", (10, 7), 77)), resolution=4)
    assert torch.all(grey == 77)
    transparent = decode_image(encode(Image.new("RGBA", (8, 8), (10, 20, 30, 0))), resolution=4)
    assert torch.all(transparent == 255), "transparent pixels show the white background"
    half = decode_image(encode(Image.new("RGBA", (8, 8), (0, 0, 0, 128))), resolution=4)
    assert torch.all((half.int() - 127).abs() <= 1)
    la = decode_image(encode(Image.new("LA", (8, 8), (0, 0))), resolution=4)
    assert torch.all(la == 255)
    p = Image.new("P", (8, 8), 0)
    p.putpalette([200, 10, 10] + [0, 0, 0] * 255)
    p.info["transparency"] = 0
    assert torch.all(decode_image(encode(p, transparency=0), resolution=4) == 255)


@given(value=st.integers(0, 65535))
def test_16_bit_images_are_scaled_not_clipped(value):
    image = Image.fromarray(np.full((6, 9), value, np.uint16))
    x = decode_image(encode(image), resolution=4)
    assert torch.all(x == round(value * 255 / 65535))


def test_16_bit_png_with_bright_values_keeps_its_contrast() -> None:
    x = decode_image(png16(np.random.default_rng(0)), resolution=16).float()
    assert 150 < x.mean() < 230 and x.std() > 10  # clipping would give a flat 255


def test_exif_orientation_is_applied() -> None:
    a = np.zeros((30, 60, 3), np.uint8)
    a[:, :30] = (255, 0, 0)  # left red, right blue, stored landscape
    a[:, 30:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    x = decode_image(encode(Image.fromarray(a), "JPEG", exif=exif, quality=95), resolution=8)
    # displayed portrait: red on top, blue at the bottom; the centre crop straddles both
    assert x[0, 0].float().mean() > 200 and x[2, -1].float().mean() > 200


def test_large_jpeg_is_decoded_to_the_same_picture_at_reduced_scale() -> None:
    a = np.zeros((800, 1200, 3), np.uint8)
    a[:400] = (250, 250, 0)
    data = encode(Image.fromarray(a), "JPEG", quality=95)
    x = decode_image(data, resolution=16)
    assert x.shape == (3, 16, 16)
    assert x[:, :7].float().mean(dim=(1, 2)).sub(torch.tensor([250.0, 250.0, 0.0])).abs().max() < 8
    assert x[:, 9:].float().max() < 8


@pytest.mark.parametrize("data,reason", [
    (b"", "empty_file"),
    (b"not an image at all", "corrupt_image"),
    (encode(Image.new("RGB", (64, 64), (1, 2, 3)), "JPEG")[:300], "corrupt_image"),
    (encode(Image.effect_noise((64, 64), 50))[:200], "corrupt_image"),
])
def test_unusable_bytes_raise_a_reason(data, reason) -> None:
    with pytest.raises(BadSampleError) as e:
        decode_image(data, resolution=8)
    assert e.value.reason == reason


def test_decompression_bomb_is_a_corrupt_image(monkeypatch) -> None:
    data = encode(Image.new("RGB", (100, 100)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(BadSampleError, match="corrupt_image"):
        decode_image(data, resolution=8)


@given(text=st.text(max_size=300), max_chars=st.integers(5, 200))
def test_clean_caption_is_bounded_printable_encodable_and_idempotent(text, max_chars):
    try:
        out = clean_caption(text, max_chars=max_chars)
    except BadSampleError as e:
        assert e.reason == "missing_caption"
        assert not "".join(c for c in text if unicodedata.category(c)[0] in "LNPS" and c != "\ufeff")
        return
    assert 0 < len(out) <= max_chars
    assert out == out.strip() and "  " not in out
    assert not any(unicodedata.category(c) == "Cc" for c in out)
    out.encode("utf-8")  # no lone surrogates
    assert clean_caption(out, max_chars=max_chars) == out


def test_long_caption_is_cut_at_a_word_boundary() -> None:
    assert len(LONG_CAPTION) == 10_000
    out = clean_caption(LONG_CAPTION)
    assert MAX_CAPTION_CHARS * 0.9 <= len(out) <= MAX_CAPTION_CHARS
    assert LONG_CAPTION.startswith(out) and LONG_CAPTION[len(out)] == " "


def test_odd_unicode_keeps_text_and_feeds_the_clip_tokenizer() -> None:
    from open_clip.tokenizer import SimpleTokenizer

    out = clean_caption(ODD_CAPTION)
    assert out.startswith("c\u00e1f\u00e9 ") and "\U0001F600" in out and "\u5b57" in out
    assert "\u200b" not in out and "\u202e" not in out and "\x00" not in out and "\n" not in out
    tokens = SimpleTokenizer(context_length=32)([out, clean_caption(LONG_CAPTION)])
    assert tokens.shape == (2, 32)
