"""Issue 10: one validator failure does not hide the rest; issues blame the defective place.

Every document here was written for these tests (``tests/corpus/own/validate/`` for the
reusable ones).  Each test asserts the issue's kind, pointer and line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from policies.check import check_spec
from policies.findings import Finding, Status
from specs import ValidationIssue, load_document, validate_document
from specs.refs import scan_refs

OWN = Path(__file__).resolve().parents[2] / "corpus" / "own" / "validate"


def issues_of(raw: bytes) -> list[ValidationIssue]:
    return validate_document(load_document(raw))


def own(name: str) -> bytes:
    return (OWN / name).read_bytes()


def located(issues: list[ValidationIssue]) -> list[tuple[str, str | None, int | None]]:
    return [(i.kind, i.pointer, i.line) for i in issues]


class TestCyclicSchemas:
    def test_oneof_members_that_allof_their_parent_are_valid(self):
        raw = own("cyclic-oneof-allof.yaml")
        started = time.perf_counter()
        issues = issues_of(raw)
        assert time.perf_counter() - started < 2.0
        assert issues == []

    def test_the_cyclic_document_passes_spec_valid_in_under_two_seconds(self):
        started = time.perf_counter()
        check = check_spec(own("cyclic-oneof-allof.yaml"))
        assert time.perf_counter() - started < 2.0
        (valid,) = [f for f in check.findings if f.rule_id == "SPEC-VALID"]
        assert valid.status == Status.PASS

    def test_a_defect_inside_a_cycle_is_still_found_once(self):
        indent = b"              "
        raw = own("cyclic-oneof-allof.yaml").replace(
            indent + b"type: number", indent + b"type: number\n" + indent + b"default: big")
        issues = issues_of(raw)
        assert [(i.kind, i.pointer, i.line) for i in issues] == [
            ("semantic", "/components/schemas/Circle/allOf/1/properties/radius/default", 34)]
        assert "'big' is not of type 'number'" in issues[0].message


class TestOneFailureDoesNotHideTheRest:
    def test_every_dangling_and_wrong_kind_reference_and_the_other_errors(self):
        issues = issues_of(own("crash-and-dangling.yaml"))
        by_pointer = {i.pointer: i for i in issues}
        expected = [
            ("reference", "/components/schemas/Order/properties/customer/$ref", 45),
            ("reference", "/paths/~1orders/get/parameters/0/$ref", 18),
            ("reference", "/paths/~1orders/get/parameters/1/$ref", 19),
            ("reference",
             "/paths/~1orders/get/responses/200/content/application~1json/schema/$ref", 26),
            ("reference", "/paths/~1tree/get/responses/200/content/application~1json/schema/$ref",
             35),
            ("structural", "/paths/~1broken/get/parameters/0", 9),
            ("validator-error", "/paths/~1broken", 6),
            ("reference", "/paths/~1orders", 15),
            ("semantic", "/components/schemas/Order/properties/count/default", 43),
        ]
        assert located(issues) == expected
        assert "'#/components/schemas/Customer' does not resolve" in by_pointer[
            "/components/schemas/Order/properties/customer/$ref"].message
        assert "'#/components/parameters/Missing' does not resolve" in by_pointer[
            "/paths/~1orders/get/parameters/0/$ref"].message

    def test_a_ref_to_the_root_used_as_a_schema_is_reported(self):
        (issue,) = [i for i in issues_of(own("crash-and-dangling.yaml"))
                    if i.pointer and i.pointer.startswith("/paths/~1tree")]
        assert (issue.kind, issue.line) == ("reference", 35)
        assert "used as a Schema Object but points at the document root" in issue.message

    def test_a_parameter_ref_must_point_at_a_parameter(self):
        (issue,) = [i for i in issues_of(own("crash-and-dangling.yaml"))
                    if i.pointer == "/paths/~1orders/get/parameters/1/$ref"]
        assert (issue.kind, issue.line) == ("reference", 19)
        assert "used as a Parameter Object but points at a Schema Object" in issue.message

    def test_a_crash_in_one_path_item_costs_only_that_path_item(self):
        issues = issues_of(own("crash-and-dangling.yaml"))
        crashed = [i for i in issues if i.kind == "validator-error"]
        assert [(i.pointer, i.line) for i in crashed] == [("/paths/~1broken", 6)]
        assert "Issues in that part are not known" in crashed[0].message
        # the component schema after the crash was still validated
        assert any(i.pointer == "/components/schemas/Order/properties/count/default"
                   for i in issues)

    def test_many_dangling_references_are_all_reported(self):
        refs = "\n".join(
            f"        - $ref: '#/components/parameters/P{n}'" for n in range(24))
        raw = f"""openapi: 3.0.3
info: {{title: x, version: '1'}}
paths:
  /a:
    get:
      parameters:
{refs}
      responses:
        '200': {{description: ok}}
""".encode()
        issues = [i for i in issues_of(raw) if i.pointer and i.pointer.endswith("/$ref")]
        assert len(issues) == 24
        assert [(i.kind, i.line) for i in issues[:2]] == [("reference", 7), ("reference", 8)]
        assert issues[0].pointer == "/paths/~1a/get/parameters/0/$ref"

    @pytest.mark.parametrize("version", ["3.1.0", "3.0.3"])
    def test_a_dangling_schema_ref_does_not_stop_the_rest_of_its_path_item(self, version):
        raw = f"""openapi: {version}
info: {{title: x, version: '1'}}
paths:
  /a:
    get:
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {{$ref: '#/components/schemas/Gone'}}
    post:
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {{type: integer, default: x}}
""".encode()
        assert located(issues_of(raw)) == [
            ("reference", "/paths/~1a/get/responses/200/content/application~1json/schema/$ref",
             11),
            ("semantic",
             "/paths/~1a/post/responses/200/content/application~1json/schema/default", 18),
        ]


class TestEverySchemaErrorInDocumentOrder:
    """The library reports one meta-schema error per Schema Object, the first ``jsonschema``
    yields — which one depended on ``PYTHONHASHSEED`` (OpenAI's document gave other findings
    in every process).  Every error is reported, in document order."""

    RAW = b"""openapi: 3.1.0
info: {title: x, version: '1'}
paths: {}
components:
  schemas:
    Hyper:
      type: object
      properties:
        beta:
          oneOf:
            - {type: string, enum: [auto]}
            - {type: number, minimum: 0, exclusiveMinimum: true}
        rate:
          oneOf:
            - {type: string, enum: [auto]}
            - {type: number, minimum: 0, exclusiveMinimum: true}
"""

    def test_both_defective_properties_are_reported_at_their_own_lines(self):
        found = [(i.pointer, i.line) for i in issues_of(self.RAW)]
        assert found == [
            ("/components/schemas/Hyper/properties/beta/oneOf/1/exclusiveMinimum", 12),
            ("/components/schemas/Hyper/properties/rate/oneOf/1/exclusiveMinimum", 16),
        ]

    def test_the_same_bytes_give_the_same_issues_in_every_process(self, tmp_path):
        document = tmp_path / "hyper.yaml"
        document.write_bytes(self.RAW)
        script = ("import sys; from specs import load_document, validate_document; "
                  "print([(i.pointer, i.message) for i in validate_document("
                  "load_document(open(sys.argv[1], 'rb').read()))])")
        answers = {
            subprocess.run([sys.executable, "-c", script, str(document)], check=True,
                           capture_output=True, text=True,
                           env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout
            for seed in range(6)
        }
        assert len(answers) == 1
        assert answers.pop().count("exclusiveMinimum") == 2



class TestTheSameIssuesWhoeverAsks:
    """Where Python's recursion limit stops a very deep ``$ref`` chain depended on how deep
    the caller's stack already was (a web request is deeper than the CLI): 110 issues
    called directly, 160 from 100 frames down.  Validation runs on a thread of its own."""

    @staticmethod
    def chain(length: int) -> bytes:
        schemas = "\n".join(
            f"    S{i}:\n      type: object\n      properties:\n"
            f"        v: {{type: integer, default: x}}\n"
            + (f"      allOf:\n        - $ref: '#/components/schemas/S{i + 1}'"
               if i < length - 1 else "")
            for i in range(length))
        return (b"openapi: 3.0.3\ninfo: {title: x, version: '1'}\npaths: {}\n"
                b"components:\n  schemas:\n" + schemas.encode() + b"\n")

    def test_a_chain_deeper_than_the_recursion_limit_gives_the_same_issues_at_any_depth(self):
        doc = load_document(self.chain(600))

        def validated_from(depth: int) -> list[tuple[str, str | None]]:
            if depth:
                return validated_from(depth - 1)
            return [(i.kind, i.pointer) for i in validate_document(doc)]

        answers = [validated_from(depth) for depth in (0, 10, 100, 300)]
        assert all(answer == answers[0] for answer in answers)
        kinds = {kind for kind, _ in answers[0]}
        assert kinds == {"semantic", "validator-error"}  # the limit was reached, and said so

    def test_what_the_validation_raises_reaches_the_caller(self, monkeypatch):
        def broken(doc, memo):
            raise MemoryError("out of memory")

        monkeypatch.setattr("specs.validate._validate", broken)
        with pytest.raises(MemoryError, match="out of memory"):
            validate_document(load_document(self.chain(1)))

class TestBlameTheDefectivePlace:
    def test_an_error_in_a_referenced_schema_is_reported_at_the_schema(self):
        (issue,) = issues_of(own("blame-referenced.yaml"))
        assert (issue.kind, issue.pointer, issue.line) == (
            "semantic", "/components/schemas/Pet/properties/age/default", 37)
        assert issue.reached_from == (
            "/paths/~1pets/get/responses/200/content/application~1json/schema/$ref",
            "/paths/~1pets~1{petId}/get/responses/200/content/application~1json/schema/$ref",
        )
        assert issue.reached_from_lines == (14, 29)

    def test_reached_from_is_in_the_plain_json_and_the_description(self):
        (issue,) = issues_of(own("blame-referenced.yaml"))
        as_json = issue.to_dict()
        assert as_json["reached_from"][0] == {
            "pointer": "/paths/~1pets/get/responses/200/content/application~1json/schema/$ref",
            "line": 14}
        assert issue.describe().startswith(issue.message + " Reached from /paths/~1pets/get/")
        assert "(line 14)" in issue.describe() and "(line 29)" in issue.describe()

    def test_an_issue_not_reached_through_a_reference_has_no_reached_from(self):
        raw = b"""openapi: 3.0.3
info: {title: x, version: '1'}
paths: {}
components:
  schemas:
    Count: {type: integer, default: many}
"""
        (issue,) = issues_of(raw)
        assert (issue.pointer, issue.line, issue.reached_from) == (
            "/components/schemas/Count/default", 6, ())
        assert "reached_from" not in issue.to_dict()

    def test_a_chain_of_references_blames_the_last_schema(self):
        raw = b"""openapi: 3.1.0
info: {title: x, version: '1'}
paths:
  /a:
    get:
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Outer'}
components:
  schemas:
    Outer:
      type: object
      properties:
        inner: {$ref: '#/components/schemas/Inner'}
    Inner:
      type: object
      required: [a, a]
"""
        (issue,) = issues_of(raw)
        assert (issue.kind, issue.pointer, issue.line) == (
            "semantic", "/components/schemas/Inner/required", 20)
        assert issue.reached_from == ("/components/schemas/Outer/properties/inner/$ref",)
        assert issue.reached_from_lines == (17,)

    def test_spec_valid_finding_is_at_the_schema_and_names_the_use_sites(self):
        check = check_spec(own("blame-referenced.yaml"))
        (finding,) = [f for f in check.findings if f.rule_id == "SPEC-VALID"]
        assert (finding.status, finding.pointer, finding.line) == (
            Status.FAIL, "/components/schemas/Pet/properties/age/default", 37)
        assert "Reached from" in finding.message and "(line 14)" in finding.message
        # serialisation unchanged: the same seven members, and it round-trips
        assert set(finding.to_dict()) == {"rule_id", "severity", "status", "message",
                                          "pointer", "line", "column"}
        assert Finding.from_dict(finding.to_dict()) == finding

    def test_a_path_parameter_missing_from_the_template_is_reported_at_the_parameter(self):
        (issue,) = issues_of(own("path-parameter.yaml"))
        assert (issue.kind, issue.pointer, issue.line) == (
            "semantic", "/paths/~1orders/get/parameters/1", 13)
        assert "'orderId'" in issue.message and "'/orders'" in issue.message

    def test_a_referenced_path_parameter_is_reported_at_its_use(self):
        raw = b"""openapi: 3.0.3
info: {title: x, version: '1'}
paths:
  /orders:
    parameters:
      - $ref: '#/components/parameters/OrderId'
    get:
      responses:
        '200': {description: ok}
components:
  parameters:
    OrderId: {name: orderId, in: path, required: true, schema: {type: string}}
"""
        (issue,) = issues_of(raw)
        assert (issue.kind, issue.pointer, issue.line) == (
            "semantic", "/paths/~1orders/parameters/0", 6)

    def test_a_template_variable_without_a_parameter_stays_at_the_operation(self):
        raw = b"""openapi: 3.0.3
info: {title: x, version: '1'}
paths:
  /orders/{orderId}:
    get:
      responses:
        '200': {description: ok}
"""
        (issue,) = issues_of(raw)
        assert (issue.kind, issue.pointer, issue.line) == (
            "semantic", "/paths/~1orders~1{orderId}/get", 5)
        assert "declares no path parameter 'orderId'" in issue.message

    def test_a_oneof_failure_names_the_unknown_keyword(self):
        (issue,) = issues_of(own("oneof-culprit.yaml"))
        assert (issue.kind, issue.pointer, issue.line) == (
            "structural", "/components/schemas/Order/optionalFields", 13)
        assert issue.message.startswith("'optionalFields' is not allowed here")
        assert "as a Schema" in issue.message and "as a Reference" in issue.message

    def test_a_oneof_failure_without_one_culprit_says_why_each_form_failed(self):
        issues = issues_of(own("crash-and-dangling.yaml"))
        (issue,) = [i for i in issues if i.kind == "structural"]
        assert (issue.pointer, issue.line) == ("/paths/~1broken/get/parameters/0", 9)
        assert "as a Parameter, 'name' is a required property" in issue.message
        assert "as a Reference, '$ref' is a required property" in issue.message


class TestReferenceScan:
    def test_references_in_examples_and_extensions_are_data(self):
        raw = b"""openapi: 3.1.0
info: {title: x, version: '1'}
paths: {}
x-notes: {$ref: '#/nowhere'}
components:
  schemas:
    A:
      type: object
      example: {$ref: '#/also/nowhere'}
"""
        assert issues_of(raw) == []

    def test_anchors_are_references_too(self):
        raw = b"""openapi: 3.1.0
info: {title: x, version: '1'}
paths: {}
components:
  schemas:
    A: {$anchor: thing, type: string}
    B: {$ref: '#thing'}
    C: {$ref: '#nothing'}
"""
        doc = load_document(raw)
        problems = scan_refs(doc.data, "3.1").problems(doc.data)
        assert [(p.ref.pointer, p.problem) for p in problems] == [
            ("/components/schemas/C/$ref", "dangling")]

    def test_a_yaml_alias_and_a_percent_encoded_ref_resolve(self):
        raw = b"""openapi: 3.0.3
info: {title: x, version: '1'}
paths:
  /a:
    get:
      responses:
        '200': &ok
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/A%20B'}
  /b:
    get:
      responses:
        '200': *ok
components:
  schemas:
    A B: {type: string}
"""
        assert issues_of(raw) == []


class TestStructuralIssuesInReferencedObjects:
    def test_a_structural_issue_in_a_referenced_schema_lists_its_use_sites(self):
        raw = own("oneof-culprit.yaml").replace(b"paths: {}\n", b"""paths:
  /orders:
    get:
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Order'
""")
        (issue,) = issues_of(raw)
        assert (issue.kind, issue.pointer, issue.line) == (
            "structural", "/components/schemas/Order/optionalFields", 22)
        assert issue.reached_from == (
            "/paths/~1orders/get/responses/200/content/application~1json/schema/$ref",)
        assert issue.reached_from_lines == (14,)
