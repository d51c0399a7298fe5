"""A fast reachability check, so that offline runs fail in seconds, not after retries."""
import os
import socket
from urllib.parse import urlparse


def hub_reachable(timeout=3.0):
    """True when the Hugging Face hub endpoint accepts a TCP connection."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=timeout).close()
        return True
    except OSError:
        return False
