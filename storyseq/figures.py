"""The figures of the plot stage: story strips, the contrastive similarity heatmap, dataset
statistics, embedding and temporal norms, and loss curves. PNGs carry no timestamp or
version metadata, so the same inputs give the same bytes."""
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
    """One row per example: K input frames, the true and the predicted frame K+1, and captions.
    Each example is a dict with inputs (K,3,S,S), target, predicted, story_id, frame, reference, generated."""
    k = len(examples[0]["inputs"])
    fig, axes = plt.subplots(len(examples), k + 2, figsize=(1.6 * (k + 2), 2.3 * len(examples)), squeeze=False)
    for row, ex in zip(axes, examples):
        for i, image in enumerate(ex["inputs"]):
            _show(row[i], image, f"frame {ex['frame'] - k + i}")
        _show(row[k], ex["target"], f"true frame {ex['frame']}")
        _show(row[k + 1], ex["predicted"], "predicted")
        row[0].text(0, -0.25, f"{ex['story_id']}\nreference: {ex['reference']}\ngenerated: {ex['generated']}",
                    transform=row[0].transAxes, fontsize=7, va="top", wrap=True)
    fig.suptitle("Test stories: K input frames, true and predicted frame K+1")
    fig.subplots_adjust(hspace=1.1)
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
