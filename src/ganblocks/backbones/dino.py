"""A frozen vision transformer whose token maps feed the discriminator heads (StyleGAN-T's discriminator).

StyleGAN-T's discriminator looks at an image through a frozen DINO ViT-S/16: the tokens entering
the transformer and the outputs of four of its blocks. In each map the class token is added to
every patch token and then dropped, so each map has one row per image patch.
"""

import os
from collections.abc import Sequence

import torch
from torch import nn

from .._typing import Float, Tensor, check_shape
from ._weights import Pretrained, WeightsError, hub_file, load_strict, read_weights_file

__all__ = ["ViTFeatureExtractor", "create_dino_backbone", "default_taps", "DINO_DEFAULT"]

DINO_DEFAULT = "vit_small_patch16_224.dino"
"""The feature network of StyleGAN-T's discriminator (timm name)."""

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
_OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def default_taps(depth: int) -> tuple[int, ...]:
    """Four block indices evenly spaced over ``depth`` blocks, ending at the last one.

    For depth 12 these are the blocks 2, 5, 8, 11 that StyleGAN-T's discriminator reads;
    shallower networks get ``min(4, depth)`` distinct blocks.
    """
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    return tuple(sorted({(i + 1) * depth // 4 - 1 for i in range(4)} - {-1}))


def _kind(vit: nn.Module) -> str:
    # by the attributes each library's ViT has (subclasses and look-alikes welcome)
    if all(hasattr(vit, a) for a in ("patch_embed", "_pos_embed", "patch_drop", "norm_pre", "blocks",
                                     "num_prefix_tokens", "has_class_token", "embed_dim")):
        return "timm"
    if all(hasattr(vit, a) for a in ("conv1", "class_embedding", "positional_embedding", "patch_dropout",
                                     "ln_pre", "transformer", "image_size", "patch_size")):
        return "open_clip"
    raise TypeError(
        "expected a timm VisionTransformer or an open_clip VisionTransformer (a CLIP model's "
        f".visual), got {type(vit).__module__}.{type(vit).__name__}"
    )


def _square(size: object, what: str) -> int:
    h, w = (size, size) if isinstance(size, int) else tuple(size)  # type: ignore[arg-type]
    if h != w:
        raise ValueError(f"only square {what} are supported, got {h}x{w}")
    return int(h)


class ViTFeatureExtractor(nn.Module):
    """A frozen vision transformer returning the token maps the discriminator heads look at.

    With tokens $t^{(l)} \\in \\mathbb{R}^{(1 + P) \\times D}$ (class token first, $P$ patches), each
    returned map is
    $$ f^{(l)}_p = t^{(l)}_{1+p} + t^{(l)}_0, \\qquad p = 1, \\dots, P, $$
    for $l$ = the token input of the transformer (patch embedding + position + class token, after
    any pre-norm) and the outputs of the tapped blocks. Register tokens, if any, are dropped.

    The network is frozen: its parameters do not require gradients and it stays in eval mode
    whatever ``train()`` is told (so a parent's ``.train()`` cannot switch its dropout on), but
    gradients flow through it to the input image. It expects images already resized to
    ``image_size`` and normalised with ``mean`` / ``std`` (both buffers, moved with the module).

    Args:
        vit: A timm ``VisionTransformer``, or an open_clip ``VisionTransformer`` (``clip.visual``).
        taps: Block indices whose outputs are returned (increasing; negative counts from the end);
            ``None`` for [`default_taps`][ganblocks.backbones.dino.default_taps].
        mean: Per-channel normalisation mean; ``None`` takes the network's own (timm's
            ``pretrained_cfg``, ImageNet otherwise; OpenAI's for open_clip).
        std: Per-channel normalisation standard deviation, as ``mean``.
    """

    def __init__(
        self,
        vit: nn.Module,
        *,
        taps: Sequence[int] | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        self._kind = _kind(vit)
        if self._kind == "timm":
            if getattr(vit.patch_embed, "img_size", None) is None:
                raise ValueError("the timm model must have a fixed input size")
            self.image_size = _square(vit.patch_embed.img_size, "inputs")
            self.embed_dim = int(vit.embed_dim)
            self.num_tokens = int(vit.patch_embed.num_patches)
            self._prefix = int(vit.num_prefix_tokens)
            self._has_cls = bool(vit.has_class_token)
            depth = len(vit.blocks)
            cfg = getattr(vit, "pretrained_cfg", None) or {}
            own_mean, own_std = cfg.get("mean", _IMAGENET_MEAN), cfg.get("std", _IMAGENET_STD)
        else:
            self.image_size = _square(vit.image_size, "inputs")
            patch = _square(vit.patch_size, "patches")
            self.embed_dim = int(vit.conv1.out_channels)
            self.num_tokens = (self.image_size // patch) ** 2
            self._prefix, self._has_cls = 1, True
            depth = len(vit.transformer.resblocks)
            own_mean, own_std = _OPENAI_MEAN, _OPENAI_STD
        taps = default_taps(depth) if taps is None else tuple(int(t) for t in taps)
        taps = tuple(t + depth if t < 0 else t for t in taps)
        if not taps or any(not 0 <= t < depth for t in taps) or list(taps) != sorted(set(taps)):
            raise ValueError(
                f"taps must be increasing, distinct block indices in [0, {depth}), got {taps}"
            )
        self.taps: tuple[int, ...] = taps
        self.channels: list[int] = [self.embed_dim] * (1 + len(taps))
        self.vit = vit
        mean_t = torch.tensor(tuple(own_mean if mean is None else mean), dtype=torch.float32)
        std_t = torch.tensor(tuple(own_std if std is None else std), dtype=torch.float32)
        if mean_t.shape != (3,) or std_t.shape != (3,):
            raise ValueError("mean and std must have three entries (RGB)")
        self.register_buffer("mean", mean_t, persistent=False)
        self.register_buffer("std", std_t, persistent=False)
        self.requires_grad_(False)
        self.train(False)

    @classmethod
    def from_timm(cls, model: nn.Module, *, taps: Sequence[int] | None = None) -> "ViTFeatureExtractor":
        """Wrap any timm ``VisionTransformer`` (its normalisation from its ``pretrained_cfg``)."""
        if _kind(model) != "timm":
            raise TypeError(f"expected a timm VisionTransformer, got {type(model).__name__}")
        return cls(model, taps=taps)

    @classmethod
    def from_open_clip(cls, visual: nn.Module, *, taps: Sequence[int] | None = None) -> "ViTFeatureExtractor":
        """Wrap an open_clip ``VisionTransformer`` (a CLIP model's ``.visual``), CLIP normalisation."""
        if _kind(visual) != "open_clip":
            raise TypeError(f"expected an open_clip VisionTransformer, got {type(visual).__name__}")
        return cls(visual, taps=taps)

    def train(self, mode: bool = True) -> "ViTFeatureExtractor":
        """Stay in eval mode whatever ``mode`` says: the network is frozen."""
        return super().train(False)

    def _embed(self, x: Tensor) -> Tensor:
        vit = self.vit
        if self._kind == "timm":
            # timm's own embedding steps, as in VisionTransformer.forward_features
            x = vit.norm_pre(vit.patch_drop(vit._pos_embed(vit.patch_embed(x))))
            return x
        x = vit.conv1(x).flatten(2).transpose(1, 2)
        cls = vit.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + vit.positional_embedding.to(x.dtype)
        return vit.ln_pre(vit.patch_dropout(x))

    def _block(self, i: int, x: Tensor) -> Tensor:
        if self._kind == "timm":
            return self.vit.blocks[i](x)
        transformer = self.vit.transformer
        if getattr(transformer, "batch_first", True):
            return transformer.resblocks[i](x)
        return transformer.resblocks[i](x.transpose(0, 1)).transpose(0, 1)

    def _patches(self, x: Tensor) -> Tensor:
        patches = x[:, self._prefix :]
        return patches + x[:, :1] if self._has_cls else patches

    def forward(
        self, images: Float[Tensor, "b 3 {self.image_size} {self.image_size}"]
    ) -> list[Float[Tensor, "b {self.num_tokens} {self.embed_dim}"]]:
        """Token maps of normalised ``images``: the token input, then each tapped block's output.

        Args:
            images: Images resized to ``image_size`` and normalised with ``mean`` / ``std``.

        Returns:
            ``len(channels)`` maps, one row per patch.
        """
        check_shape("images", images, (None, 3, self.image_size, self.image_size))
        x = self._embed(images)
        maps = [self._patches(x)]
        for i in range(self.taps[-1] + 1):
            x = self._block(i, x)
            if i in self.taps:
                maps.append(self._patches(x))
        return maps


def _tiny_vit(img_size: int, patch_size: int, embed_dim: int, depth: int, num_heads: int) -> nn.Module:
    from timm.models.vision_transformer import VisionTransformer

    if img_size % patch_size or embed_dim % num_heads:
        raise ValueError(
            f"tiny preset: img_size ({img_size}) must be a multiple of patch_size ({patch_size}) "
            f"and embed_dim ({embed_dim}) a multiple of num_heads ({num_heads})"
        )
    return VisionTransformer(
        img_size=img_size, patch_size=patch_size, embed_dim=embed_dim, depth=depth,
        num_heads=num_heads, num_classes=0,
    )


def create_dino_backbone(
    name: str = DINO_DEFAULT,
    *,
    pretrained: Pretrained = True,
    taps: Sequence[int] | None = None,
    device: torch.device | str | None = None,
    img_size: int | None = None,
    patch_size: int | None = None,
    embed_dim: int | None = None,
    depth: int | None = None,
    num_heads: int | None = None,
) -> ViTFeatureExtractor:
    """Build the frozen feature network of the discriminator from a timm vision transformer.

    Args:
        name: A timm ViT name with its weights tag (default: DINO ViT-S/16), or ``"tiny"``: a
            random ViT (32 px, patch 4, width 64, depth 4, 4 heads) for tests and CPU demos.
        pretrained: ``True`` for the name's published weights (Hugging Face cache, downloaded
            when online), ``False``/``None`` for random weights, or a path to a weights file
            holding the timm model's ``state_dict()`` (loaded strictly). The tiny preset has no
            published weights: only ``False``/``None`` or a path.
        taps: Block indices to return (see [`ViTFeatureExtractor`][ganblocks.backbones.dino.ViTFeatureExtractor]).
        device: Where to put the network.
        img_size: Tiny preset only: input size.
        patch_size: Tiny preset only: patch size.
        embed_dim: Tiny preset only: token width.
        depth: Tiny preset only: number of blocks.
        num_heads: Tiny preset only: attention heads.

    Raises:
        ValueError: For an unknown name (listing valid ones) or size overrides on a non-tiny name.
        WeightsError: For a missing or unreadable weights file (also a ``FileNotFoundError``
            when missing), a file for another architecture (naming the mismatched keys), or
            ``pretrained=True`` for a network without published weights. A ``ValueError``.
        WeightsUnavailableError: Within seconds, when the published weights are neither cached
            nor reachable (a ``WeightsError`` and a ``RuntimeError``).
    """
    try:
        import timm
    except ImportError as err:  # pragma: no cover - timm is a dependency
        raise ImportError("create_dino_backbone needs timm: `pip install timm`") from err
    overrides = dict(img_size=img_size, patch_size=patch_size, embed_dim=embed_dim, depth=depth, num_heads=num_heads)
    weights_path = pretrained if isinstance(pretrained, (str, os.PathLike)) else None
    state = None if weights_path is None else read_weights_file(weights_path)  # a bad file fails first
    if name == "tiny":
        if pretrained is True:
            raise WeightsError("the 'tiny' preset has no published weights.")
        defaults = dict(img_size=32, patch_size=4, embed_dim=64, depth=4, num_heads=4)
        model = _tiny_vit(**{k: defaults[k] if v is None else v for k, v in overrides.items()})
    else:
        given = [k for k, v in overrides.items() if v is not None]
        if given:
            raise ValueError(f"{', '.join(given)} only apply to the 'tiny' preset, not {name!r}")
        if not timm.is_model(name):
            others = [n for n in timm.list_pretrained("vit_*.dino") if n != DINO_DEFAULT]
            some = ", ".join(["tiny", DINO_DEFAULT, *others[:4], "(any timm ViT)"])
            raise ValueError(f"unknown backbone name {name!r}; valid names include: {some}")
        if pretrained is True:
            cfg = timm.models.get_pretrained_cfg(name)
            repo = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
            if not repo:
                raise WeightsError(f"timm has no hub weights for {name!r}.")
            files = [cfg.hf_hub_filename] if cfg.hf_hub_filename else ["model.safetensors", "pytorch_model.bin"]
            path = hub_file(repo, files, what=name)
            model = timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=path))
        else:
            model = timm.create_model(name, pretrained=False)
        if not all(hasattr(model, a) for a in ("patch_embed", "_pos_embed", "blocks", "num_prefix_tokens")):
            raise ValueError(f"{name!r} is not a vision transformer (got {type(model).__name__})")
    if state is not None:
        load_strict(
            model, state, source=repr(str(weights_path)),
            expected=f"the timm model {name!r}",
        )
    return ViTFeatureExtractor(model, taps=taps).to(device)
