Feature: Four-eyes approval of deployments
  As a release manager
  I want every promotion to deployment approved by someone other than the person who asked
  So that no one can put their own change into production alone

  Background:
    Given the version "1.0.0" of "orders" is in testing and passes the deployment gate

  Scenario: The requester cannot approve their own promotion; another approver can
    When "alice@example.com" requests the promotion to "deployment" because "Release 1.0"
    Then the request is pending with 0 of 1 approvals
    When "alice@example.com" approves the request
    Then the approval is refused because the requester cannot approve their own request
    And the version is still in "testing"
    When "bob@example.com" approves the request saying "Gate record reviewed"
    Then the version is in "deployment"
    And the audit trail of the version ends with "promotion.requested" by "alice@example.com", "promotion.approved" by "bob@example.com", "transition.promotion" by "bob@example.com"
    And the signed gate record of the promotion lists the approval by "bob@example.com" saying "Gate record reviewed"

  Scenario: Promoting directly is refused until someone approves
    When I promote the version to "deployment"
    Then the promotion is refused because it needs an approval
    And the version is still in "testing"

  Scenario: A rejected request cannot be approved any more
    When "alice@example.com" requests the promotion to "deployment" because "Release 1.0"
    And "bob@example.com" rejects the request saying "Pen test first"
    And "carol@example.com" approves the request
    Then the approval is refused because the request was rejected
    And the version is still in "testing"
