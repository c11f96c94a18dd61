Feature: Token evidence opens the deployment gate
  As a security reviewer
  I want a version to reach deployment only with proof that its access tokens are encrypted
  So that an API whose tokens are readable or forgeable never ships

  Background:
    Given the API "orders" titled "Orders API" owned by the team "Checkout"
    And its version "1.0.0", which starts in "design"
    And the version was promoted to "testing" with a compliant document
    And Stagegate generated an encryption key for the version

  Scenario: Without token evidence the version is blocked from deployment until it is supplied
    When I promote the version to "deployment"
    Then the promotion is refused because sample token evidence is missing
    And the refusal says to paste a sample access token or to POST it to the evidence endpoint
    And the version is still in "testing"
    When the issuer's signing JWKS is added as evidence
    And a good sample token encrypted to the current key is analysed
    Then the analysis passes every rule
    When the version's gateway is configured and proven with a real nginx
    And I request the promotion to "deployment" and another approver approves it
    Then the version is in "deployment"

  Scenario: After key rotation, tokens for the old key analyse during the grace period only
    Given the issuer's signing JWKS is added as evidence
    And the public JWKS of the version is remembered as the old key set
    When the key is rotated with a grace period of 3600 seconds
    And 30 minutes pass
    And a good sample token encrypted to the old key is analysed
    Then the analysis passes every rule
    When 2 hours pass
    And a good sample token encrypted to the old key is analysed
    Then the analysis fails "JWE-KEY-BOUND"
    When a good sample token encrypted to the current key is analysed
    Then the analysis passes every rule
