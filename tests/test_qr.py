"""QR helpers: the module matrix, the standalone SVG and the reportlab drawing."""

import io
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
from reportlab.pdfgen.canvas import Canvas

from voting.qr import draw_qr, qr_matrix, qr_svg

SVG_NS = "{http://www.w3.org/2000/svg}"
URL = "https://vote.example.gov.cn/checkin/K7QX2MNP8RTV4WHZ?m=12&w=3"

FORMAT_MASK = 0b101010000010010  # ISO/IEC 18004: XORed onto the format bits
FORMAT_GENERATOR = 0b10100110111  # the BCH(15,5) generator of the format bits
LEVEL_M = 0b00


def _parse(svg):
    return ET.fromstring(svg)  # noqa: S314 - the SVG is our own output, not untrusted input


def _bits(modules):
    return int("".join("1" if dark else "0" for dark in modules), 2)


def _format_info(matrix):
    """Read both copies of the 15 format bits: around the top-left finder, and split along the others."""
    n = len(matrix)
    first = [matrix[8][c] for c in (0, 1, 2, 3, 4, 5, 7, 8)] + [matrix[r][8] for r in (7, 5, 4, 3, 2, 1, 0)]
    second = [matrix[n - 1 - r][8] for r in range(7)] + [matrix[8][n - 8 + c] for c in range(8)]
    return _bits(first), _bits(second)


def _bch_remainder(value):
    for shift in range(4, -1, -1):
        if value & (1 << (shift + 10)):
            value ^= FORMAT_GENERATOR << shift
    return value


def _svg_dark_modules(svg):
    """Return the set of (x, y) modules the SVG path paints, in viewBox units."""
    path = _parse(svg).find(f"{SVG_NS}path").get("d")
    runs = re.findall(r"M(\d+) (\d+)h(\d+)v1h-\3z", path)
    assert "".join(f"M{x} {y}h{n}v1h-{n}z" for x, y, n in runs) == path
    return {(int(x) + i, int(y)) for x, y, n in runs for i in range(int(n))}


def _dark_modules(matrix, offset):
    return {(x + offset, y + offset) for y, row in enumerate(matrix) for x, dark in enumerate(row) if dark}


def test_matrix_is_a_square_of_booleans_whose_version_grows_with_the_data():
    small, large = qr_matrix("a"), qr_matrix(URL * 4)
    assert len(small) == 21  # version 1, no border
    assert len(large) > len(qr_matrix(URL)) > len(small)
    for matrix in (small, large):
        assert all(len(row) == len(matrix) for row in matrix)
        assert {type(module) for row in matrix for module in row} == {bool}
        assert (len(matrix) - 17) % 4 == 0  # side = 17 + 4 * version


def test_matrix_has_the_three_finder_patterns_and_no_border():
    matrix = qr_matrix(URL)
    n = len(matrix)
    for top, left in ((0, 0), (0, n - 7), (n - 7, 0)):
        ring = [matrix[top][left + i] for i in range(7)] + [matrix[top + i][left] for i in range(7)]
        assert all(ring)
        assert not matrix[top + 1][left + 1]
        assert all(matrix[top + r][left + c] for r in range(2, 5) for c in range(2, 5))


def test_format_information_decodes_to_error_correction_level_m():
    for data in ("a", URL, URL * 4):
        first, second = _format_info(qr_matrix(data))
        assert first == second
        assert _bch_remainder(first ^ FORMAT_MASK) == 0
        assert (first ^ FORMAT_MASK) >> 13 == LEVEL_M


def test_svg_is_one_path_on_a_white_square_sized_by_its_view_box():
    svg = qr_svg(URL, title="签到二维码")
    root = _parse(svg)
    side = len(qr_matrix(URL)) + 8
    assert root.tag == f"{SVG_NS}svg"
    assert root.get("viewBox") == f"0 0 {side} {side}"
    assert root.get("width") is None and root.get("height") is None
    assert root.get("shape-rendering") == "crispEdges"
    assert root.get("role") == "img" and root.get("aria-label") == "签到二维码"
    assert [child.tag for child in root] == [f"{SVG_NS}rect", f"{SVG_NS}path"]
    rect = root.find(f"{SVG_NS}rect")
    assert (rect.get("width"), rect.get("height"), rect.get("fill")) == (str(side), str(side), "#fff")
    assert "\n" not in svg


@pytest.mark.parametrize("quiet_zone", [0, 1, 4])
def test_svg_path_paints_exactly_the_dark_modules_inside_the_quiet_zone(quiet_zone):
    svg = qr_svg(URL, quiet_zone=quiet_zone)
    assert _svg_dark_modules(svg) == _dark_modules(qr_matrix(URL), quiet_zone)


def test_svg_path_merges_each_horizontal_run_into_one_rectangle():
    path = _parse(qr_svg(URL)).find(f"{SVG_NS}path").get("d")
    starts = [(int(x), int(y), int(n)) for x, y, n in re.findall(r"M(\d+) (\d+)h(\d+)", path)]
    ends = {(x + n, y) for x, y, n in starts}
    assert not any((x, y) in ends for x, y, _ in starts)


def test_svg_title_is_escaped():
    hostile = "</svg><script>alert(\"x\")</script> & 'quoted'"
    svg = qr_svg(URL, title=hostile)
    assert "<script" not in svg
    assert _parse(svg).get("aria-label") == hostile


def test_svg_without_a_title_is_hidden_from_screen_readers():
    root = _parse(qr_svg(URL))
    assert root.get("aria-hidden") == "true"
    assert root.get("role") is None and root.get("aria-label") is None


def _render_gray(pdf, resolution):
    """Render page 1 of ``pdf`` to an 8-bit grey image and return (width, height, pixels)."""
    if not shutil.which("pdftoppm"):
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    result = subprocess.run(
        ["pdftoppm", "-gray", "-r", str(resolution), "-f", "1", "-l", "1"],
        input=pdf,
        capture_output=True,
        check=True,
    )
    header = re.match(rb"P5\s+(\d+)\s+(\d+)\s+255\s", result.stdout)
    width, height = int(header[1]), int(header[2])
    return width, height, result.stdout[header.end() :]


def test_draw_qr_paints_the_modules_inside_a_two_module_quiet_zone():
    matrix = qr_matrix(URL)
    modules = len(matrix) + 4
    module_points = 6
    x, y, size = 30, 40, modules * module_points
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(size + 60, size + 80))
    draw_qr(canvas, URL, x, y, size)
    canvas.save()

    # At 72 dpi a point is a pixel; sample the centre of every module of the square.
    width, height, pixels = _render_gray(buffer.getvalue(), 72)
    top = height - (y + size)

    def dark(column, row):
        px = x + int((column + 0.5) * module_points)
        py = top + int((row + 0.5) * module_points)
        return pixels[py * width + px] < 128

    painted = {(c, r) for r in range(modules) for c in range(modules) if dark(c, r)}
    assert painted == _dark_modules(matrix, 2)
