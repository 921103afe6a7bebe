"""Shared reportlab setup: the embedded Chinese font every generated PDF uses."""

import os
import threading

from reportlab import rl_config
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

CJK_FONT_NAME = "WQY"
DEFAULT_CJK_FONT_PATH = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"

# ASCII85 only makes binary streams a quarter larger and slower to write; every PDF reader
# takes them as they are. The setting is process-wide, like the font registry below.
rl_config.useA85 = 0

# reportlab's font registry is process-wide, so registration happens once per process.
_registered = False
_lock = threading.Lock()


def register_cjk_font() -> str:
    """Register the WenQuanYi Micro Hei TrueType font with reportlab once and return its name."""
    global _registered
    with _lock:
        if not _registered:
            pdfmetrics.registerFont(TTFont(CJK_FONT_NAME, _font_path(), subfontIndex=0))
            _registered = True
    return CJK_FONT_NAME


def _font_path():
    """Return the font file to embed, failing clearly when it is not installed."""
    # A TrueType font is needed: reportlab cannot embed Noto CJK's CFF outlines, and its
    # built-in CID fonts are not embedded, so phones and printers without them show boxes.
    path = os.environ.get("VOTING_CJK_FONT") or DEFAULT_CJK_FONT_PATH
    if not os.path.isfile(path):
        raise RuntimeError(
            f"Chinese font file {path} not found; install it with "
            "`apt-get install fonts-wqy-microhei` or point VOTING_CJK_FONT at a TrueType font."
        )
    return path
