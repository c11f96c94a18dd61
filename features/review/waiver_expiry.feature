Feature: Waivers are time-boxed
  As a security reviewer
  I want to accept a known finding for a limited time only
  So that a release can go ahead now without the exception becoming permanent

  Background:
    Given the API "orders" titled "Orders API" owned by the team "Checkout"
    And its version "1.0.0", which starts in "design"
    And the version is in development with an operation anyone may call

  Scenario: A waived finding passes until the waiver expires, then blocks again
    When the approver "ann@example.com" waives "SPEC-OPERATIONS-SECURED" for 14 days because "The health check is public on purpose"
    Then the gate into "testing" passes
    And the finding "SPEC-OPERATIONS-SECURED" shows as waived by "ann@example.com"
    When 13 days pass
    Then the gate into "testing" passes
    When 1 more day passes
    Then the gate into "testing" is blocked by "SPEC-OPERATIONS-SECURED" again
    And promoting the version to "testing" is refused by the gate

  Scenario: A revoked waiver stops counting at once
    When the approver "ann@example.com" waives "SPEC-OPERATIONS-SECURED" for 14 days because "The health check is public on purpose"
    And the approver "bob@example.com" revokes the waiver
    Then the gate into "testing" is blocked by "SPEC-OPERATIONS-SECURED" again

  Scenario: A waiver lasts at most 90 days
    When the approver "ann@example.com" waives "SPEC-OPERATIONS-SECURED" for 91 days because "Until the next major version"
    Then the waiver is refused because it would last longer than 90 days

  Scenario: Critical findings cannot be waived
    Given the version is also served over plain HTTP
    When the approver "ann@example.com" waives "TRN-HTTPS-ONLY" for 14 days because "Internal network only"
    Then the waiver is refused because critical findings cannot be waived
