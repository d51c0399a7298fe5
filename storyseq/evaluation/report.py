"""Scores for people: display names, rounding, and Markdown tables (they read well in a log
and paste into a paper)."""

NAMES = {"bleu": "BLEU-4", "rouge_l": "ROUGE-L", "meteor": "METEOR", "character_f1": "character F1",
         "image_mse": "image MSE", "image_psnr": "image PSNR", "image_mae": "image MAE", "image_ssim": "SSIM",
         "placement": "placement"}
DECIMALS = {"image_mse": 4, "image_psnr": 2, "image_mae": 4}  # every other score: 3


def fmt(score, value, signed=False):
    """`value` of `score` at its display precision; '-' when missing."""
    if value is None:
        return "-"
    return f"{value:{'+' if signed else ''}.{DECIMALS.get(score, 3)}f}"


def markdown(header, rows):
    """A Markdown table: the header row, then one row per list of cells."""
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(str(cell) for cell in line) + " |" for line in lines)
