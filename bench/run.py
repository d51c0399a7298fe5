"""`make bench`: side-by-side ratios measured in one run on this machine; prints a table and
writes bench/results.json. Run from the repository root with the venv active (make does).
`python bench/run.py noop real_step` runs only those groups of keys (GROUPS) and only prints them."""
import json
import os
import platform
import sys

import embed_cost
import project_cost
import torch
import train_cost
from measure import ROOT

# Groups of keys, in the order they run; `python bench/run.py noop real_step` runs only those.
GROUPS = {"encoders": embed_cost.encoders, "real_step": train_cost.real_shaped_training, "noop": project_cost.noop,
          "rerun": lambda: project_cost.in_project(project_cost.rerun_overhead, {}),
          "seed_sd": lambda: project_cost.in_project(project_cost.seed_sd_bleu, {}),
          "image_decoder": lambda: project_cost.in_project(project_cost.image_decoder_cost, {}),
          "scaling": project_cost.scaling}


def main():
    names = sys.argv[1:] or list(GROUPS)
    if unknown := set(names) - set(GROUPS):
        raise SystemExit(f"bench: unknown group {', '.join(sorted(unknown))}; groups: {', '.join(GROUPS)}")
    torch.manual_seed(0)
    results = {}
    for name in names:
        results.update(GROUPS[name]())
    results["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"
    if names == list(GROUPS):  # a partial run prints its keys but leaves the full run's file alone
        (ROOT / "bench/results.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"{'key':24} value")
    for key, value in results.items():
        print(f"{key:24} {value:.3f}" if isinstance(value, float) else f"{key:24} {value}")


if __name__ == "__main__":
    main()
