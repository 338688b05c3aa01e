"""The Hugging Face hub: used when reachable; when not, the HF offline switches are set so
nothing waits on retries, and names that are not local directories fail at once."""

import os
import socket
from functools import cache
from urllib.parse import urlparse


@cache
def hub_reachable(timeout: float = 2.0) -> bool:
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def configure(mode: str | bool) -> bool:
    """Decide once per process whether the hub is used. `mode`: auto, true (offline) or
    false (online). Returns True when offline. Call before importing transformers."""
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        offline = True
    elif str(mode).lower() == "auto":
        offline = not hub_reachable()
    else:
        offline = str(mode).lower() in ("true", "1", "yes")
    if offline:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["HF_DATASETS_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
    return offline
