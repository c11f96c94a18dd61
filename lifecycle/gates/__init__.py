"""The gate: evidence providers, waivers, the decision, the recorded check and stage moves.

- :mod:`.providers` — the :class:`~.providers.EvidenceProvider` protocol and the registry the
  app's composition fills (``create_app``); gates never import a concrete provider;
- :mod:`.waivers` — time-limited exceptions for findings;
- :mod:`.evaluate` — :func:`~.evaluate.evaluate_gate`, the one gate function (transitions,
  approvals, the board);
- :mod:`.moves` — promotions, demotions and retirement through the stage machine.
"""
