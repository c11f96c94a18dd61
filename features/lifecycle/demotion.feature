Feature: Demoting a version needs a reason
  As a security reviewer
  I want to send an API version back to an earlier stage and say why
  So that the team knows what to fix and the audit trail explains every step back

  Background:
    Given the API "orders" titled "Orders API" owned by the team "Checkout"
    And its version "1.0.0", which starts in "design"
    And the version was promoted to "testing" with a compliant document

  Scenario: A demotion with a reason is recorded in the history
    When "alice" demotes the version to "development" because "Pen test found tokens in logs"
    Then the version is in "development"
    And the last history entry is a demotion from "testing" to "development" by "alice" because "Pen test found tokens in logs"

  Scenario Outline: A demotion without a reason is refused
    When "alice" demotes the version to "<stage>" <how>
    Then the move is refused as impossible with a message containing "needs a reason"
    And the version is still in "testing"
    And the history has no demotion

    Examples:
      | stage       | how                 |
      | development | without a reason    |
      | design      | with a blank reason |

  Scenario: A demotion is not gated, even when the latest document is broken
    When I upload a document whose info has no version
    And "bob" demotes the version to "design" because "Spec rewrite for v2 of the schema"
    Then the version is in "design"

  Scenario: A retired version cannot be brought back
    When "alice" demotes the version to "retirement" because "Replaced by orders v2"
    Then the version is in "retirement"
    When "alice" demotes the version to "development" because "Changed our mind"
    Then the move is refused as impossible with a message containing "retired"
    And the version is still in "retirement"
