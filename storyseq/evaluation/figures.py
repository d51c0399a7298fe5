"""The figures of the plot stage: story strips, the contrastive similarity heatmap, dataset
statistics, embedding and temporal norms, and loss curves. PNGs carry no timestamp or
version metadata, so the same inputs give the same bytes."""
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

COMPONENTS = ("image", "text", "contrastive", "total")
sns.set_theme(style="whitegrid", font_scale=0.9)


def save(fig, path):
    fig.savefig(path, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def _show(ax, image, title):
    ax.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def story_strips(examples, path):
    save(strips_figure(examples), path)


def strips_figure(examples, wrap=150):
    """The story strips' figure: one strip (a matplotlib subfigure) per example: K input frames, the true and the predicted frame K+1 (with its
    SSIM), then the reference and generated captions, wrapped at `wrap` characters in the strip's
    own text band, sized to its lines, so that no caption runs into the next strip. Each example
    is a dict with inputs (K,3,S,S), target, predicted, ssim, story_id, frame, reference, generated."""
    k = len(examples[0]["inputs"])
    texts = [f"{ex['story_id']}\n" + "\n".join(textwrap.fill(f"{label}: {ex[key]}", wrap)
                                                for label, key in (("reference", "reference"), ("generated", "generated")))
             for ex in examples]
    heights = [1.7 + 0.14 * (text.count("\n") + 1) for text in texts]
    fig = plt.figure(figsize=(1.7 * (k + 2), sum(heights) + 0.4))
    for strip, ex, text, height in zip(fig.subfigures(len(examples), 1, height_ratios=heights), examples, texts,
                                       heights):
        grid = strip.add_gridspec(2, k + 2, height_ratios=[1.55, height - 1.55], hspace=0.05)
        for i, image in enumerate(ex["inputs"]):
            _show(strip.add_subplot(grid[0, i]), image, f"frame {ex['frame'] - k + i}")
        _show(strip.add_subplot(grid[0, k]), ex["target"], f"true frame {ex['frame']}")
        _show(strip.add_subplot(grid[0, k + 1]), ex["predicted"], f"predicted (SSIM {ex['ssim']:.2f})")
        caption = strip.add_subplot(grid[1, :])
        caption.axis("off")
        caption.text(0, 1, text, transform=caption.transAxes, fontsize=7, va="top", family="monospace")
    return fig


def true_and_predicted(target, predicted, path):
    """One test window's true and predicted frame K+1 side by side, at 4x their pixel size."""
    size = target.shape[-1] * 4 / 110
    fig, (left, right) = plt.subplots(1, 2, figsize=(2 * size + 0.4, size + 0.5))
    _show(left, target, "true")
    _show(right, predicted, "predicted")
    save(fig, path)


def similarity(matrix, labels, path):
    """Cosine similarity of image (rows) and text (columns) projections of test frames."""
    fig, ax = plt.subplots(figsize=(7, 6))
    sns.heatmap(matrix.numpy(), ax=ax, cmap="viridis", square=True, xticklabels=labels, yticklabels=labels,
                cbar_kws={"label": "cosine similarity"})
    ax.set_xlabel("text of test frame")
    ax.set_ylabel("image of test frame")
    ax.set_title("Image-text similarity in the contrastive space (test frames)")
    save(fig, path)


def dataset_stats(story_lengths, token_lengths, path):
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    sns.histplot(story_lengths, ax=left, discrete=True)
    left.set(title="Story length", xlabel="frames per story", ylabel="stories")
    sns.histplot(token_lengths, ax=right, discrete=True)
    right.set(title="Caption length", xlabel="tokens per frame caption", ylabel="frames")
    save(fig, path)


def norms(image_norms, text_norms, step_norms, path):
    """Projection norms per modality, and LSTM output norms over the K input steps."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    sns.histplot({"image": image_norms.numpy(), "text": text_norms.numpy()}, ax=left, element="step")
    left.set(title="Projection norms (test frames)", xlabel="L2 norm", ylabel="frames")
    mean, std = step_norms.mean(0).numpy(), step_norms.std(0).numpy()
    steps = range(1, len(mean) + 1)
    right.errorbar(steps, mean, yerr=std, marker="o", capsize=3)
    right.set(title="Temporal (LSTM) feature norms", xlabel="input step", ylabel="L2 norm (mean ± sd)",
              xticks=list(steps))
    save(fig, path)


def losses(history, path):
    fig, axes = plt.subplots(1, len(COMPONENTS), figsize=(14, 3.4), layout="constrained")
    epochs = [row["epoch"] for row in history]
    for ax, name in zip(axes, COMPONENTS):
        for split in ("train", "val"):
            ax.plot(epochs, [row[f"{split}_{name}"] for row in history], label=split)
        ax.set(title=f"{name} loss", xlabel="epoch", ylabel="loss")
        ax.legend()
    fig.suptitle("Training curves")
    save(fig, path)
