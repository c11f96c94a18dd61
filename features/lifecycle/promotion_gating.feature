Feature: Promotion is gated by the policy of the next stage
  As a member of an API team
  I want to see exactly why my API version cannot move to the next stage, fix it and promote
  So that only documents that meet the organisation's security policy move forward

  Background:
    Given the API "orders" titled "Orders API" owned by the team "Checkout"
    And its version "1.0.0", which starts in "design"

  Scenario: A version without any document cannot leave design
    When I promote the version to "development"
    Then the promotion is refused by the "development" gate because of "SPEC-VALID"
    And the blocking finding says that no OpenAPI document has been uploaded
    And the version is still in "design"

  Scenario: An invalid document is explained, fixed and promoted
    When I upload a document whose info has no version
    Then the document is stored as revision 1
    And the gate into "development" is blocked by "SPEC-VALID" at line 2 of the document
    When I promote the version to "development"
    Then the promotion is refused by the "development" gate because of "SPEC-VALID"
    And the version is still in "design"
    When I upload the corrected document
    Then the document is stored as revision 2
    And the gate into "development" passes
    When I promote the version to "development"
    Then the version is in "development"
    And the history reads: revision 1, revision 2, promotion to "development"

  Scenario: An operation anyone can call blocks the way to testing
    Given the version was promoted to "development" with a compliant document
    When I upload a document in which GET /orders/{id} has an empty security list
    Then the gate into "testing" is blocked by "SPEC-OPERATIONS-SECURED" at the line of that security list
    And the blocking finding tells me how to fix it and cites its sources
    When I promote the version to "testing"
    Then the promotion is refused by the "testing" gate because of "SPEC-OPERATIONS-SECURED"
    And the version is still in "development"
    When I upload a document in which GET /orders/{id} requires the access token
    And I promote the version to "testing"
    Then the version is in "testing"
    And the promotion records the passed check of revision 3

  Scenario: Going back to an earlier document makes it the current one again
    Given the version was promoted to "development" with a compliant document
    When I upload a document in which GET /orders/{id} has an empty security list
    And I upload the compliant document again
    Then the gate into "testing" passes
    When I promote the version to "testing"
    Then the version is in "testing"

  Scenario: Promotion goes one stage at a time
    Given the version has a compliant document
    When I promote the version to "testing"
    Then the move is refused as impossible with a message containing "one stage at a time"
    And the version is still in "design"

  Scenario: A compliant document reaches testing; deployment also needs token evidence
    Given the version has a compliant document
    When I promote the version to "development"
    And I promote the version to "testing"
    Then the version is in "testing"
    When I promote the version to "deployment"
    Then the promotion is refused by the "deployment" gate, which asks for a sample access token
    And the version is still in "testing"
