"""Framework-free policy engine: rule catalog, evaluators, policy packs and gate decisions.

Public surface (see ``docs/ARCHITECTURE.md``)::

    from policies.rules import Rule, Severity, Source, get_rule, all_rules
    from policies.findings import Finding, Status
    from policies.check import check_spec, SpecCheck
    from policies.packs import load_pack, PolicyPack
    from policies.gate import decide, GateDecision
    from policies.report import render_text, render_json, render_sarif

Nothing here imports Flask or ``lifecycle``; dependency direction is ``policies → specs``.
"""
