"""Reading uploaded bytes: YAML 1.2 meaning, format detection, limits and clear errors.

No app: ``specs`` is framework-free (ARCHITECTURE.md).  Sources: YAML 1.2.2 §10.3 (core
schema), RFC 8259 (JSON), DESIGN.md "Input safety".
"""

from __future__ import annotations

import codecs
import hashlib
import math
import time
import tracemalloc

import pytest

from specs import LoadLimits, SpecLoadError, load_document


def load_error(raw: bytes, limits: LoadLimits | None = None) -> SpecLoadError:
    with pytest.raises(SpecLoadError) as caught:
        load_document(raw, limits)
    return caught.value


def billion_laughs(levels: int = 9, width: int = 9) -> bytes:
    """The classic YAML alias bomb: ``levels`` anchors, each listing the previous one
    ``width`` times."""
    lines = ['a0: &a0 "lol"']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return ("\n".join(lines) + "\n").encode()


class TestYaml12Meaning:
    """Plain scalars resolve with the YAML 1.2 core schema, never YAML 1.1 surprises."""

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("9:30", "9:30"),  # YAML 1.1 would read base-60: 570
            ("2024-01-31", "2024-01-31"),  # no implicit timestamps
            ("2001-12-14t21:59:43.10-05:00", "2001-12-14t21:59:43.10-05:00"),
            ("0x_", "0x_"),  # malformed number stays text
            ("1_000", "1_000"),  # YAML 1.1 allowed digit separators
            ("yes", "yes"),
            ("no", "no"),
            ("on", "on"),
            ("off", "off"),
            ("Y", "Y"),
            ("true", True),
            ("False", False),
            ("TRUE", True),
            ("null", None),
            ("~", None),
            ("", None),
            ("0x1F", 31),
            ("0o17", 15),
            ("012", 12),  # decimal in YAML 1.2, octal in 1.1
            ("-7", -7),
            ("1e3", 1000.0),
            ("3.1", 3.1),
            (".inf", math.inf),
            ("-.Inf", -math.inf),
            ("'3.1'", "3.1"),
            ('"true"', "true"),
            ("!!str 200", "200"),
            ('!!int "42"', 42),
        ],
    )
    def test_plain_scalars_resolve_with_the_core_schema(self, text, expected):
        doc = load_document(f"value: {text}\n".encode())
        assert doc.data["value"] == expected
        assert type(doc.data["value"]) is type(expected)

    def test_nan_is_a_float(self):
        assert math.isnan(load_document(b"value: .nan\n").data["value"])

    def test_mapping_keys_are_always_strings(self):
        doc = load_document(b"200: ok\n404: missing\n2.5: y\ntrue: z\nnull: w\n9:30: t\n")
        assert list(doc.data) == ["200", "404", "2.5", "true", "null", "9:30"]

    def test_bare_response_codes_are_string_keys(self):
        doc = load_document(
            b"responses:\n  200:\n    description: ok\n  default:\n    description: e\n"
        )
        assert doc.data["responses"]["200"] == {"description": "ok"}


class TestFormatDetection:
    """JSON or YAML is decided from the bytes alone (load_document takes no file name)."""

    def test_json_object_is_json(self):
        doc = load_document(b'{"openapi": "3.1.0", "info": {"title": "t", "version": "1"}}')
        assert doc.format == "json"
        assert doc.openapi_version == "3.1"

    def test_json_after_leading_whitespace_is_json(self):
        assert load_document(b'\n\n  {"a": 1}').format == "json"

    def test_yaml_is_yaml(self):
        assert load_document(b"openapi: 3.0.3\n").format == "yaml"

    def test_yaml_document_marker_is_yaml(self):
        doc = load_document(b"---\nopenapi: '3.0.3'\n...\n")
        assert doc.format == "yaml"
        assert doc.openapi_version == "3.0"

    def test_yaml_flow_mapping_at_top_level_is_yaml(self):
        doc = load_document(b"{openapi: 3.0.3, info: {title: t, version: '1'}}")
        assert doc.format == "yaml"
        assert doc.data["openapi"] == "3.0.3"

    def test_raw_text_and_sha256_are_kept(self):
        raw = b"openapi: '3.1.0'\n"
        doc = load_document(raw)
        assert doc.raw == raw
        assert doc.text == raw.decode()
        assert doc.sha256 == hashlib.sha256(raw).hexdigest()

    def test_bytearray_and_memoryview_are_accepted(self):
        assert load_document(bytearray(b"a: 1\n")).data == {"a": 1}
        assert load_document(memoryview(b"a: 1\n")).data == {"a": 1}

    def test_text_instead_of_bytes_is_a_programming_error(self):
        with pytest.raises(TypeError):
            load_document("a: 1\n")  # type: ignore[arg-type]


class TestEncoding:
    @pytest.mark.parametrize("body", [b'{"openapi": "3.0.0"}', b"openapi: '3.0.0'\n"])
    def test_a_utf8_bom_is_removed_from_the_text_but_kept_in_the_bytes(self, body):
        raw = codecs.BOM_UTF8 + body
        doc = load_document(raw)
        assert doc.data == {"openapi": "3.0.0"}
        assert not doc.text.startswith("\ufeff")
        assert doc.raw == raw
        assert doc.sha256 == hashlib.sha256(raw).hexdigest()

    @pytest.mark.parametrize("raw", [b"", b"   \n\t\n", codecs.BOM_UTF8, b"# only a comment\n"])
    def test_an_empty_document_is_refused(self, raw):
        err = load_error(raw)
        assert err.code == "empty"
        assert "empty" in err.message

    def test_invalid_utf8_names_the_line(self):
        err = load_error(b"openapi: '3.0.0'\ninfo:\n  title: caf\xe9\n")
        assert err.code == "encoding"
        assert err.line == 3
        assert "UTF-8" in err.message

    def test_utf16_is_not_utf8(self):
        assert load_error("openapi: x\n".encode("utf-16")).code == "encoding"

    def test_nul_bytes_are_refused_with_their_line(self):
        err = load_error(b"openapi: '3.0.0'\ninfo: {}\nx: a\x00b\n")
        assert err.code == "encoding"
        assert err.line == 3
        assert "NUL" in err.message

    def test_an_escaped_nul_inside_a_quoted_string_is_text(self):
        assert load_document(b'a: "x\\0y"\n').data == {"a": "x\x00y"}


class TestDuplicateAndOddKeys:
    def test_duplicate_json_keys_are_refused(self):
        err = load_error(b'{"paths": {}, "info": {}, "paths": {"/a": {}}}')
        assert err.code == "duplicate_key"
        assert "'paths'" in err.message

    def test_duplicate_nested_json_keys_are_refused(self):
        assert load_error(b'{"a": {"b": 1, "b": 2}}').code == "duplicate_key"

    def test_duplicate_yaml_keys_are_refused_naming_the_second_line(self):
        err = load_error(b"openapi: '3.0.0'\ninfo:\n  title: a\n  title: b\n")
        assert err.code == "duplicate_key"
        assert (err.line, err.column) == (4, 3)
        assert "'title'" in err.message

    def test_same_key_in_different_mappings_is_fine(self):
        doc = load_document(b"a:\n  name: x\nb:\n  name: y\n")
        assert doc.data == {"a": {"name": "x"}, "b": {"name": "y"}}

    @pytest.mark.parametrize("raw", [b"? [1, 2]\n: x\n", b"? {a: 1}\n: x\n", b"[1]: x\n"])
    def test_a_sequence_or_mapping_as_key_is_refused(self, raw):
        err = load_error(raw)
        assert err.code == "syntax"
        assert err.line == 1


class TestTags:
    @pytest.mark.parametrize(
        "raw",
        [
            b"a: !!binary aGVsbG8=\n",
            b"a: !!python/object:os.system x\n",
            b"a: !!python/object/apply:os.system ['echo hi']\n",
            b"a: !!python/name:os.system ''\n",
            b"a: !!timestamp 2001-12-14\n",
            b"a: !!set {x: null}\n",
            b"a: !!omap [x: 1]\n",
            b"a: !custom value\n",
        ],
    )
    def test_tags_outside_json_values_are_refused(self, raw):
        err = load_error(raw)
        assert err.code == "unsupported_tag"
        assert (err.line, err.column) == (1, 4)
        assert "not supported" in err.message

    def test_an_explicit_core_tag_with_a_wrong_value_is_a_syntax_error(self):
        err = load_error(b"a: !!int abc\n")
        assert err.code == "syntax"
        assert err.line == 1


class TestSyntaxErrors:
    def test_json_syntax_error_names_line_and_column(self):
        err = load_error(b'{\n  "openapi": "3.0.0",\n  "info": }\n')
        assert err.code == "syntax"
        assert (err.line, err.column) == (3, 11)
        assert err.message.startswith("Invalid JSON")

    def test_yaml_syntax_error_names_the_line(self):
        err = load_error(b"openapi: '3.0.0'\ninfo:\n  title: [unclosed\n")
        assert err.code == "syntax"
        assert err.line is not None and err.line >= 3
        assert err.message.startswith("Invalid YAML")

    def test_tab_indentation_gets_a_hint(self):
        err = load_error(b"info:\n\ttitle: x\n")
        assert err.code == "syntax"
        assert err.line == 2
        assert "tabs" in err.message

    def test_to_dict_is_plain_json(self):
        err = load_error(b"a: 1\na: 2\n")
        assert err.to_dict() == {"code": "duplicate_key", "message": err.message, "line": 2,
                                 "column": 1}


class TestTopLevel:
    @pytest.mark.parametrize(
        ("raw", "kind"),
        [(b"[1, 2]", "an array"), (b"- a\n- b\n", "an array"), (b'"text"', "str"),
         (b"42\n", "int"), (b"just words\n", "str"), (b"null\n", "NoneType")],
    )
    def test_a_top_level_that_is_not_a_mapping_is_refused(self, raw, kind):
        err = load_error(raw)
        assert err.code == "not_a_mapping"
        assert kind in err.message
        assert (err.line, err.column) == (1, 1)


class TestVersionDetection:
    @pytest.mark.parametrize(
        ("raw", "declared", "version"),
        [
            (b"openapi: 3.0.3\n", "3.0.3", "3.0"),
            (b"openapi: 3.1.0\n", "3.1.0", "3.1"),
            (b"openapi: 3.1.1\n", "3.1.1", "3.1"),
            (b"openapi: 3.2.0\n", "3.2.0", "3.2"),
            (b"swagger: '2.0'\n", "2.0", "2.0"),
            (b"openapi: 3.1\n", "3.1", None),  # a float, not a version string
            (b"swagger: 2.0\n", "2.0", None),
            (b"openapi: 4.0.0\n", "4.0.0", None),
            (b"openapi: banana\n", "banana", None),
            (b"openapi: null\n", None, None),
            (b"info: {}\n", None, None),
        ],
    )
    def test_declared_and_validated_version(self, raw, declared, version):
        doc = load_document(raw)
        assert doc.declared_version == declared
        assert doc.openapi_version == version


class TestDepthLimit:
    def test_json_deeper_than_the_limit_is_refused(self):
        limits = LoadLimits(max_depth=5)
        load_document(b'{"a": {"b": {"c": {"d": {}}}}}', limits)  # depth 5
        err = load_error(b'{"a": {"b": {"c": {"d": {"e": {}}}}}}', limits)
        assert err.code == "too_deep"
        assert "5 levels" in err.message

    def test_yaml_deeper_than_the_limit_is_refused_with_a_line(self):
        limits = LoadLimits(max_depth=5)
        ok = "".join("  " * i + f"k{i}:\n" for i in range(3)) + "  " * 3 + "k3: {}\n"
        load_document(ok.encode(), limits)  # five nested mappings
        deep = "".join("  " * i + f"k{i}:\n" for i in range(4)) + "  " * 4 + "k4: {}\n"
        err = load_error(deep.encode(), limits)
        assert err.code == "too_deep"
        assert err.line == 5

    def test_json_and_yaml_count_depth_the_same_way(self):
        limits = LoadLimits(max_depth=4)
        as_json = load_document(b'{"a": {"b": {"c": {"d": "x"}}}}', limits)
        as_yaml = load_document(b"a:\n  b:\n    c:\n      d: x\n", limits)
        assert as_json.data == as_yaml.data

    @pytest.mark.parametrize("raw", [b"[" * 100_000 + b"]" * 100_000,
                                     b"a: " + b"[" * 100_000 + b"]" * 100_000])
    def test_pathological_nesting_is_refused_not_a_crash(self, raw):
        assert load_error(raw).code in {"too_deep", "syntax", "not_a_mapping"}

    def test_deeply_nested_json_object_is_too_deep(self):
        raw = b'{"a":' * 5000 + b"1" + b"}" * 5000
        assert load_error(raw).code == "too_deep"


class TestAliasBudget:
    def test_a_billion_laughs_bomb_is_refused_quickly_with_little_memory(self):
        raw = billion_laughs(9, 9)
        tracemalloc.start()
        started = time.perf_counter()
        try:
            err = load_error(raw)
            elapsed = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert err.code == "alias_budget"
        assert "alias" in err.message
        assert err.line is not None
        assert elapsed < 1.0
        assert peak < 50 * 1024 * 1024

    def test_the_budget_counts_expanded_nodes_not_aliases(self):
        # 3 levels x 9 = 729 leaves: fine with the default budget, refused with a small one.
        raw = billion_laughs(3, 9)
        assert len(load_document(raw).data["a3"]) == 9
        assert load_error(raw, LoadLimits(max_alias_expansion=100)).code == "alias_budget"

    def test_a_real_document_with_fifty_aliases_is_accepted(self):
        lines = [
            "openapi: 3.0.3",
            "info: {title: aliases, version: '1'}",
            "x-common:",
            "  ok: &ok",
            "    description: OK",
            "    content:",
            "      application/json:",
            "        schema: {type: object, properties: {id: {type: string}}}",
            "paths:",
        ]
        for i in range(50):
            lines += [f"  /r{i}:", "    get:", "      responses:", "        '200': *ok"]
        doc = load_document(("\n".join(lines) + "\n").encode())
        responses = [doc.data["paths"][f"/r{i}"]["get"]["responses"]["200"] for i in range(50)]
        assert all(r["description"] == "OK" for r in responses)

    def test_merge_keys_are_not_yaml_12(self):
        # '<<' is a YAML 1.1 type; in 1.2 it is an ordinary key.
        doc = load_document(b"base: &b {x: 1}\nitem:\n  <<: *b\n  y: 2\n")
        assert doc.data["item"] == {"<<": {"x": 1}, "y": 2}

    def test_a_recursive_alias_is_refused(self):
        err = load_error(b"a: &loop\n  self: *loop\n")
        assert err.code == "alias_budget"
        assert "cycle" in err.message
        assert err.line in (1, 2)  # the anchored node or the alias inside it

    def test_an_undefined_alias_is_a_syntax_error(self):
        assert load_error(b"a: *nowhere\n").code == "syntax"


class TestSizeLimit:
    def test_exactly_the_limit_is_accepted_and_one_byte_more_is_refused(self):
        limits = LoadLimits(max_bytes=32)
        body = b"a: " + b"x" * 28 + b"\n"
        assert len(body) == 32
        load_document(body, limits)
        err = load_error(body + b" ", limits)
        assert err.code == "too_large"
        assert "32" in err.message

    def test_the_default_limit_is_25_mib(self):
        assert LoadLimits().max_bytes == 25 * 1024 * 1024
        assert load_error(b" " * (25 * 1024 * 1024 + 1)).code == "too_large"
