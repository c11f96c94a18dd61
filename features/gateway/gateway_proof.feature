Feature: A proven gateway opens the deployment gate
  As a security reviewer
  I want a version to reach deployment only after a real nginx proved that its gateway refuses
  every attack on the token policy
  So that a gateway that lets a forged, leaked or replayed token through never fronts a live API

  Background:
    Given the API "orders" titled "Orders API" owned by the team "Checkout"
    And its version "1.0.0", which starts in "design"
    And the version was promoted to "testing" with a compliant document
    And the version has passing sample-token evidence
    And the team saved the gateway settings and Stagegate generated the nginx configuration

  Scenario: An unproven gateway cannot enter deployment; after a passing proof it can; after the configuration changes it cannot again
    When I promote the version to "deployment"
    Then the promotion is refused because the gateway has never been proven
    And the refusal says how to run a proof
    When the team runs a gateway proof with a real nginx
    Then the proof passed: the good token reached the upstream without its Authorization header and every attack was refused before the upstream
    And the gate into "deployment" passes
    When the team points the gateway at a new upstream and regenerates the configuration
    Then the gate into "deployment" is blocked because the configuration changed since its proof
    When the team runs a gateway proof with a real nginx
    And I request the promotion to "deployment" and another approver approves it
    Then the version is in "deployment"
    And the signed gate record names the proof of the current configuration
