#!/bin/sh
# Headless set-up: from an empty database to a developer's access token and a created API,
# without a browser (README "Headless set-up"; tests/integration/test_headless_setup.py runs
# exactly this script against a live server).
#
# Needs: the `stagegate` command with DATABASE_URL and STAGEGATE_KEY_ENCRYPTION_KEY set for
# the same database as the running server, curl, python3; STAGEGATE_URL (the server).
set -eu
: "${STAGEGATE_URL:=http://127.0.0.1:5000}"
DEV=dev@example.com

stagegate db upgrade
# the developer's password (they can sign in later); read from stdin, never an argument
head -c 24 /dev/urandom | base64 | stagegate users create --email "$DEV" --role developer
stagegate teams create --name payments
stagegate teams add-member --team payments --email "$DEV"
PAT=$(stagegate tokens create --email "$DEV" --name ci --expires-days 30)

# RFC 6749 §4.4: the PAT is the client secret, its first part (sgp_<lookup>) the client id
ACCESS=$(curl -fsS -u "${PAT%_*}:$PAT" -d grant_type=client_credentials \
  "$STAGEGATE_URL/api/v1/token" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')

curl -fsS -H "Authorization: Bearer $ACCESS" -H "Content-Type: application/json" \
  -d '{"name": "payments", "title": "Payments", "team": "payments"}' \
  "$STAGEGATE_URL/api/v1/apis"
echo
