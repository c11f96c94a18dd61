Feature: The board shows what needs attention first
  As a platform lead looking after hundreds of API versions
  I want the board to put the versions that need someone at the top
  So that blocked versions and waivers about to run out are not lost among the ready ones

  Background:
    Given the API "aardvark" titled "Aardvark API" owned by the team "Checkout"
    And its version "1.0.0", which starts in "design"
    And the version has a compliant document
    And the API "zebra" titled "Zebra API" owned by the team "Checkout"
    And its version "1.0.0", which starts in "design"
    And the version was promoted to "development" with a compliant document

  Scenario: A blocked version comes before the ready ones, whatever its name
    When I upload a document in which GET /orders/{id} has an empty security list
    Then the board lists "zebra" first, as blocked
    And the board counts 1 version in "design" and 1 in "development"

  Scenario: A waiver about to expire is shown as expiring until it lapses
    When I upload a document in which GET /orders/{id} has an empty security list
    And an approver waives "SPEC-OPERATIONS-SECURED" for 3 days
    Then the board lists "zebra" first, as expiring
    When 3 days pass and the board's periodic check runs
    Then the board lists "zebra" first, as blocked
