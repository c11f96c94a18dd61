Feature: A security reviewer can trust the audit trail and the gate records
  As a security reviewer
  I want to check that the record of who changed what has not been rewritten, and to check a
  gate decision on my own machine with Stagegate's published key
  So that the decisions Stagegate made can be relied on in an audit

  Background:
    Given the API "orders" titled "Orders API" owned by the team "Checkout"
    And its version "1.0.0", which starts in "design"

  Scenario: Every change is in the audit trail, and an untouched trail verifies
    Given the version has a compliant document
    When I promote the version to "development"
    Then the audit trail shows, oldest first: "api.created", "version.created", "spec.uploaded", "signing_key.generated", "transition.promotion"
    And the promotion's entry names who promoted the version and its signed gate record
    And verifying the audit trail reports every entry intact

  Scenario: Someone rewrites a refused promotion as passed, directly in the database
    Given the promotion to "development" was refused
    And the version was promoted to "development" with a compliant document
    When someone changes the refused promotion's entry directly in the database
    Then verifying the audit trail fails and names the refused promotion's entry
    And it reports the entries before it as intact

  Scenario: Someone deletes an entry of the audit trail, directly in the database
    Given the version was promoted to "development" with a compliant document
    When someone deletes the upload's entry directly in the database
    Then verifying the audit trail fails and names the upload's entry as missing

  Scenario: A downloaded gate record verifies offline
    Given the version was promoted to "development" with a compliant document
    When I download the gate record of the promotion and Stagegate's published signing keys
    Then the record verifies offline and says the promotion into "development" passed

  Scenario Outline: A gate record changed in one character no longer verifies
    Given the version was promoted to "development" with a compliant document
    When I download the gate record of the promotion and Stagegate's published signing keys
    And I change one character of the record's <part>
    Then the record no longer verifies

    Examples:
      | part      |
      | header    |
      | payload   |
      | signature |

  Scenario: An approver finds a refused promotion on the audit page and opens its gate record
    Given the promotion to "development" was refused
    When an approver filters the audit page by the action "gate.blocked"
    Then the page lists one entry about "orders@1.0.0" linking to its version page
    And its signed gate record downloads from the entry's link
    And a developer is refused the audit page
