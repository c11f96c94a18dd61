"""Accounts: users, teams, roles (:mod:`.roles`), sessions, second factor, personal access
tokens and API access tokens (:mod:`.apitokens`), and the authorization check (:mod:`.authz`).

The web pages of accounts live in :mod:`lifecycle.web.accounts` / :mod:`lifecycle.web.admin`,
the ``users`` / ``tokens`` commands in :mod:`lifecycle.cli_accounts`."""
