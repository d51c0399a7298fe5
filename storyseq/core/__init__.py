"""What every stage uses: params, one-line errors, atomic writes, progress bars, devices and seeds, the dvclive log."""
