"""The excerpt of a finding in a long line (issue 9 point 15): a window of characters around
the finding's column, with ellipses where the line is cut and the character at the column
split out for a marker — not the start of the line."""

from __future__ import annotations

from specs.document import ELLIPSIS, excerpt_window


def test_a_column_deep_in_a_minified_line_is_shown_with_120_characters_either_side():
    line = "".join(f"{i:07d}," for i in range(600_000))  # 4.8 MB, one line
    column = 190_914
    ((x,),) = [excerpt_window(line, 1, column)]
    assert x.number == 1 and x.cut_before and x.cut_after
    assert x.at == line[column - 1]
    assert x.before == line[column - 121:column - 1]          # 120 characters before
    assert x.after == line[column:column + 119]               # and 119 after: 240 in all
    assert len(x.text) == 240 and x.start == column - 121
    assert x.shown == ELLIPSIS + line[column - 121:column + 119] + ELLIPSIS
    assert x.shown[x.marker] == line[column - 1]
    assert not x.shown.startswith(ELLIPSIS + line[:10])     # not the start of line 1
    number, shown = x                                         # unpacks like excerpt_lines
    assert (number, shown) == (1, x.shown)


def test_the_window_stays_inside_the_line_near_its_ends():
    line = "a" * 50 + "X" + "b" * 949
    start = excerpt_window(line, 1, 51, width=100)[0]
    assert (start.start, start.cut_before, start.cut_after) == (0, False, True)
    assert start.before == "a" * 50 and start.at == "X" and start.marker == 50
    line = "b" * 989 + "X" + "a" * 10
    end = excerpt_window(line, 1, 990, width=100)[0]
    assert (end.cut_before, end.cut_after) == (True, False)
    assert end.text == line[-100:] and end.at == "X"
    assert end.shown[end.marker] == "X"


def test_short_lines_are_whole_and_neighbours_share_the_window():
    text = "openapi: 3.1.0\ninfo:\n  title: Pets\n  version: '1'\n"
    lines = excerpt_window(text, 3, 3, context=1)
    assert [(x.number, x.shown) for x in lines] == [(2, "info:"), (3, "  title: Pets"),
                                                   (4, "  version: '1'")]
    assert lines[1].at == "t" and lines[1].marker == 2
    assert lines[0].at == "" and lines[0].marker is None
    long = ["x" * 1000, "y" * 1000 + "!", "z" * 1000]
    window = excerpt_window(long, 2, 600, context=1, width=40)
    assert {x.start for x in window} == {579}                 # columns stay aligned
    assert window[1].at == "y"


def test_without_a_column_or_past_the_end_the_line_start_is_shown_and_nothing_marked():
    line = "q" * 500
    (plain,) = excerpt_window(line, 1)
    assert plain.start == 0 and plain.cut_after and plain.marker is None
    (past,) = excerpt_window("short", 1, 99)
    assert past.shown == "short" and past.marker is None
    assert excerpt_window("one\ntwo", 5, 1) == [] and excerpt_window("", 1, 1) == []
