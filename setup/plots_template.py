"""Make `dvc plots show` render offline: inline Vega, Vega-Lite and Vega-Embed from the npm
packages into an HTML template, and point this clone's local dvc config at it. Without the
npm packages, the local setting is removed and dvc's default (CDN) page is used."""
import subprocess
from pathlib import Path

SCRIPTS = ["node_modules/vega/build/vega.min.js", "node_modules/vega-lite/build/vega-lite.min.js",
           "node_modules/vega-embed/build/vega-embed.min.js"]
TEMPLATE = Path(".dvc/offline_plots.html")
PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>DVC plots (offline)</title>
{inline}
<style>table {{ border-spacing: 15px; }} body {{ font-family: sans-serif; }}</style>
</head>
<body>
{{plot_divs}}
</body>
</html>
"""


def dvc_config(*args):
    subprocess.run(["dvc", "config", "--local", *args], check=False, capture_output=True)


if __name__ == "__main__":
    if all(Path(s).is_file() for s in SCRIPTS):
        inline = "\n".join(f"<script>\n{Path(s).read_text()}\n</script>" for s in SCRIPTS)
        TEMPLATE.write_text(PAGE.format(inline=inline))
        dvc_config("plots.html_template", TEMPLATE.name)
        print(f"setup: `dvc plots show` renders offline with {TEMPLATE}")
    else:
        TEMPLATE.unlink(missing_ok=True)
        dvc_config("--unset", "plots.html_template")
        print("setup: Vega npm packages absent; `dvc plots show` uses dvc's default page (loads Vega from a CDN)")
