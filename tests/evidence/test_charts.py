import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidence.charts import bar_chart, line_chart, stacked_bar_chart

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
    assert widths[0] == pytest.approx(4 * widths[1]) and widths[2] == 0
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
