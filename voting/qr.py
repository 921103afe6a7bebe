"""QR codes as a module matrix, a standalone SVG, or rectangles on a reportlab canvas."""

import re
from xml.sax.saxutils import quoteattr

import qrcode

# Fixed mask: letting qrcode score all eight masks costs about 9 ms a code, too slow for a
# sign-in screen that redraws every 15 s and for thousands of printed cards; any mask is
# valid and scanners read all of them.
_MASK_PATTERN = 0

# Quiet zone, in modules, around the code on printed cards; the card margin adds to it.
_PRINT_QUIET_ZONE = 2

_DARK_RUN = re.compile(rb"\x01+")


def qr_matrix(data: str) -> list[list[bool]]:
    """Return the QR modules for ``data`` as rows of booleans, True for dark, with no border."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0, mask_pattern=_MASK_PATTERN)
    code.add_data(data)
    code.make(fit=True)
    return code.get_matrix()


def _dark_runs(matrix):
    """Yield ``(x, y, length)`` for each horizontal run of dark modules."""
    for y, row in enumerate(matrix):
        # As bytes a row is 0s and 1s, so the regex engine finds the runs at C speed.
        for run in _DARK_RUN.finditer(bytes(row)):
            yield run.start(), y, run.end() - run.start()


def qr_svg(data: str, *, quiet_zone=4, title: str | None = None) -> str:
    """Return a standalone SVG of the QR code for ``data``, sized by CSS through its viewBox."""
    matrix = qr_matrix(data)
    side = len(matrix) + 2 * quiet_zone
    path = "".join(f"M{x + quiet_zone} {y + quiet_zone}h{length}v1h-{length}z" for x, y, length in _dark_runs(matrix))
    # Without a title the code is decorative: the page around it says what it is for.
    label = f'role="img" aria-label={quoteattr(title)}' if title is not None else 'aria-hidden="true"'
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {side}" '
        f'shape-rendering="crispEdges" {label}>'
        f'<rect width="{side}" height="{side}" fill="#fff"/>'
        f'<path d="{path}" fill="#000"/>'
        "</svg>"
    )


def draw_qr(canvas, data, x, y, size):
    """Draw the QR code for ``data`` in the ``size``-point square whose bottom-left is (x, y)."""
    matrix = qr_matrix(data)
    module = size / (len(matrix) + 2 * _PRINT_QUIET_ZONE)
    canvas.saveState()
    # Work in module units with y pointing down, so each run is a small integer rectangle.
    canvas.translate(x + _PRINT_QUIET_ZONE * module, y + size - _PRINT_QUIET_ZONE * module)
    canvas.scale(module, -module)
    canvas.setFillColorRGB(0, 0, 0)
    # Raw "re" operators: reportlab's path objects format every number through a slow
    # float formatter, which dominated the time of printing thousands of cards.
    rects = " ".join(f"{col} {row} {length} 1 re" for col, row, length in _dark_runs(matrix))
    canvas.addLiteral(f"{rects} f")
    canvas.restoreState()
