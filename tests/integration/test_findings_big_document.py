"""Findings in big documents (issue 9 point 15): in a minified 4 MB JSON each finding's
excerpt is a window around its column (not the start of line 1), and 79 findings of one rule
are one group with a count, the first few open and the rest folded in ``<details>``, with a
plain GET filter by severity and rule."""

from __future__ import annotations

import copy
import html
import json
import re
import time

import pytest
from evidencekit import SPEC, new_version
from markupsafe import escape

from specs import load_document

REST = "/api/v1/apis/orders/versions/1.0.0"
PAGE = "/apis/orders/versions/1.0.0"
RULE = "SPEC-OPERATIONS-SECURED"
OPEN = 79


def minified(operations: int = 6500, first_open: int = 300) -> bytes:
    """SPEC as one line of JSON with ``operations`` secured operations, :data:`OPEN` of them
    (from ``first_open`` on) open to anyone."""
    data = copy.deepcopy(load_document(SPEC).data)
    template = data["paths"]["/orders/{id}"]["get"]
    paths = {}
    for i in range(operations):
        op = copy.deepcopy(template)
        op["operationId"] = f"getThing{i}"
        op["description"] = "A filler operation of a big document. " * 10
        if first_open <= i < first_open + OPEN:
            op["security"] = []
        paths[f"/things/{i}/{{id}}"] = {"get": op}
    data["paths"] = paths
    return json.dumps(data, separators=(",", ":")).encode()


@pytest.fixture(scope="module")
def document() -> bytes:
    raw = minified()
    assert raw.count(b"\n") == 0 and 3_500_000 < len(raw) < 4_500_000
    return raw


@pytest.fixture
def big(client, document):
    new_version(client, document, stages=("development",))
    return client


def text(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_data(as_text=True)


def test_the_excerpt_is_a_window_around_the_column_of_line_1(big, document):
    started = time.perf_counter()
    page = text(big.get(PAGE))
    elapsed = time.perf_counter() - started
    group = page.split(f'id="rule-{RULE}"')[1].split('class="finding-group__more"')[0]
    first = group.split('<li class="finding')[1]
    where = re.search(r"line 1:(\d+)", first)
    assert where, first[:500]
    column = int(where.group(1))
    assert column > 150_000
    excerpt = first.split('<pre class="excerpt')[1].split("</pre>")[0]
    source = document.decode()
    assert f'<mark class="excerpt__at" title="Column {column}">{escape(source[column - 1])}' \
        '</mark>' in excerpt
    assert 'class="excerpt excerpt--window"' in first            # wraps: the mark in view
    shown = html.unescape(re.sub(r"<[^>]+>", "", excerpt))
    assert source[column - 100:column - 1] in shown            # the text before the column
    assert source[column:column + 100] in shown                # and after it
    assert shown.count("…") == 2                               # cut on both sides
    assert '{"openapi"' not in shown                           # not the start of line 1
    assert len(page) < 400_000, len(page)
    assert elapsed < 20, elapsed


def test_79_findings_of_one_rule_are_one_group_with_the_rest_folded(big):
    page = text(big.get(PAGE))
    head = page.split(f'id="rule-{RULE}"')[1].split("</h4>")[0]
    assert f"{OPEN} places" in head
    group = page.split(f'id="rule-{RULE}"')[1].split("</details>")[0]
    opened, folded = group.split('class="finding-group__more"')
    assert opened.count('<li class="finding') == 3
    assert f"{OPEN - 3} more places where <code>{RULE}</code> fails" in folded
    assert folded.count('<li class="finding') == OPEN - 3
    # the rule's remediation and sources are said once for the group, not 79 times
    assert page.count("How to fix:") < 10


def test_the_filter_is_a_plain_get_form_by_severity_and_rule(big):
    page = text(big.get(PAGE))
    form = page.split('class="findings-filter"')[1].split("</form>")[0]
    assert 'method="get"' in form and f'<option value="{RULE}">{RULE} ({OPEN})</option>' in form
    assert "<script" not in page.split('id="gate"')[1].split("</section>")[0]

    critical = text(big.get(PAGE + "?severity=critical"))
    assert f'id="rule-{RULE}"' not in critical
    assert re.search(r"\d+ findings? hidden by the filter", critical)
    only = text(big.get(PAGE + f"?rule={RULE}"))
    assert f'id="rule-{RULE}"' in only and '<option value="high"' in only
    assert f'<option value="{RULE}" selected>' in only
    # the verdict is not filtered
    assert "Blocked in revision 1:" in only
    # values that are not offered are ignored, never an error
    odd = big.get(PAGE + "?severity=%3Cscript%3E&rule=NOPE-1&severity=x")
    assert odd.status_code == 200 and f'id="rule-{RULE}"' in text(odd)
