import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reports.charts import bar_chart, line_chart, stacked_bar_chart

NS = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    return root


def test_bar_chart_draws_one_bar_per_value_scaled_to_the_largest():
    root = parse(bar_chart([("Windows", 40), ("Linux", 10), ("macOS", 0)], title="OS"))
    bars = root.findall(f"{NS}rect")
    assert len(bars) == 3
    widths = [float(b.get("width")) for b in bars]
    assert widths[0] == pytest.approx(4 * widths[1], abs=0.3) and widths[2] == 0
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "Windows" in texts and "40" in texts and root.find(f"{NS}title").text == "OS"


def test_bar_chart_empty_says_no_data():
    assert "No data" in bar_chart([])


def test_line_chart_plots_points_in_order_with_values():
    root = parse(line_chart([("Aug", 80), ("Sep", 90), ("Oct", 95.5)], max_value=100, unit="%"))
    circles = root.findall(f"{NS}circle")
    assert len(circles) == 3
    xs = [float(c.get("cx")) for c in circles]
    ys = [float(c.get("cy")) for c in circles]
    assert xs == sorted(xs) and ys[0] > ys[1] > ys[2]  # higher value → higher on the page
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "95.5%" in texts and "Oct" in texts
    assert root.find(f"{NS}polyline") is not None


def test_stacked_bar_segments_sum_to_the_total_and_lengths_are_checked():
    root = parse(
        stacked_bar_chart(["Critical", "High"], [("Verified", [3, 5]), ("Overdue", [1, 0])])
    )
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "Verified" in texts and "Overdue" in texts and "4" in texts and "5" in texts
    segments = [r for r in root.findall(f"{NS}rect") if float(r.get("width")) > 9]
    assert len(segments) == 3  # zero-width segment is skipped
    with pytest.raises(ValueError, match="2 categories"):
        stacked_bar_chart(["a", "b"], [("s", [1])])


@given(
    st.lists(
        st.tuples(st.text(max_size=30), st.floats(min_value=0, max_value=1e6, allow_nan=False)),
        max_size=12,
    )
)
def test_any_labels_and_values_give_well_formed_svg(data):
    parse(bar_chart(data, title="t<&>"))
    parse(line_chart(data))
    labels = [label for label, _ in data]
    parse(stacked_bar_chart(labels, [("a", [v for _, v in data])]))


def _text_boxes(root: ET.Element) -> list[tuple[float, float, float, float, str]]:
    """(left, right, top, bottom) of every text element, from the chart's own width estimate."""
    from reports.charts import FONT_SIZE, text_width

    boxes = []
    for t in root.iter(f"{NS}text"):
        x, y, w = float(t.get("x")), float(t.get("y")), text_width(t.text or "")
        anchor = t.get("text-anchor")
        left = x - w / 2 if anchor == "middle" else (x - w if anchor == "end" else x)
        boxes.append((left, left + w, y - FONT_SIZE, y + 2, t.text or ""))
    return boxes


def _assert_nothing_clipped(svg: str) -> ET.Element:
    root = parse(svg)
    width, height = float(root.get("width")), float(root.get("height"))
    for left, right, top, bottom, text in _text_boxes(root):
        assert left >= 0 and right <= width, f"{text!r} clipped horizontally ({left}, {right})"
        assert top >= 0 and bottom <= height, f"{text!r} clipped vertically ({top}, {bottom})"
    for rect in root.iter(f"{NS}rect"):
        assert float(rect.get("x")) + float(rect.get("width")) <= width + 0.1
    return root


def test_long_bar_labels_wrap_inside_the_drawing_and_keep_every_word():
    label = "Do not disrupt (imaging consoles and lab analysers)"
    root = _assert_nothing_clipped(
        bar_chart([(label, 100.0), ("Workstation", 66.7)], max_value=100, unit=" %")
    )
    texts = " ".join(t.text for t in root.iter(f"{NS}text"))
    assert all(word in texts for word in label.split()) and "100 %" in texts


def test_a_long_unbroken_label_is_cut_into_pieces_not_clipped():
    root = _assert_nothing_clipped(bar_chart([("x" * 120, 5)]))
    assert "".join(t.text for t in root.iter(f"{NS}text") if set(t.text) == {"x"}) == "x" * 120


def test_trend_labels_fit_and_thin_out_instead_of_overlapping():
    points = [(f"{d:02d} Sep", 70 + d / 2) for d in range(1, 31)]
    root = _assert_nothing_clipped(line_chart(points, max_value=100, unit=" %"))
    boxes = sorted(b for b in _text_boxes(root) if "Sep" in b[4])
    assert boxes[-1][4] == "30 Sep"  # the last point is always labelled
    for a, b in zip(boxes, boxes[1:], strict=False):
        assert a[1] <= b[0], f"{a[4]!r} overlaps {b[4]!r}"
    # a value at the very top of the scale still has room for its label above the dot
    top = _assert_nothing_clipped(line_chart([("Week 1", 100), ("Week 2", 100)], max_value=100))
    assert "100" in [t.text for t in top.iter(f"{NS}text")]


def test_stacked_legend_wraps_inside_the_width():
    series = [(f"Series with a long name {i}", [1.0, 2.0]) for i in range(6)]
    _assert_nothing_clipped(stacked_bar_chart(["Critical", "High"], series))
