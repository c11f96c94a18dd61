Feature: Unreadable uploads are refused with a clear message, and nothing is lost
  As a member of an API team
  I want an upload that cannot be read to tell me what is wrong with it
  So that I can fix it, while the document I uploaded before stays as it was

  Background:
    Given the API "orders" titled "Orders API" owned by the team "Checkout"
    And its version "1.0.0", which starts in "design"
    And the version has a compliant document

  Scenario Outline: An unreadable upload is refused and the earlier revision stays
    When I upload <a bad file>
    Then the upload is refused with status <status> and the error "<error>"
    And the message explains: "<explanation>"
    And revision 1 is still the only revision, with the same content

    Examples:
      | a bad file                          | status | error           | explanation              |
      | a YAML alias bomb                   | 422    | spec_unreadable | aliases expand           |
      | a binary file                       | 422    | spec_unreadable | not UTF-8                |
      | a PNG picture                       | 422    | spec_unreadable | not UTF-8                |
      | a JSON array                        | 422    | spec_unreadable | not an OpenAPI object    |
      | a document with a duplicated key    | 422    | spec_unreadable | appears twice            |
      | an empty file                       | 422    | spec_unreadable | empty                    |

  Scenario: A document over the size limit is refused with the limit named
    Given the organisation accepts documents of at most 2000 bytes
    When I upload a document of 3000 bytes
    Then the upload is refused with status 413 and the error "too_large"
    And the message explains: "2,000 bytes"
    And revision 1 is still the only revision, with the same content

  Scenario: A YAML syntax error names the line to fix
    When I upload a YAML document indented with a tab on line 4
    Then the upload is refused with status 422 and the error "spec_unreadable"
    And the message explains: "tab"
    And the error names line 4
    And revision 1 is still the only revision, with the same content

  Scenario: The version number written without quotes is explained at its line
    When I upload a document that says openapi: 3.1 without quotes on line 2
    Then the document is stored as revision 2
    And the gate into "development" is blocked by "SPEC-VALID" at line 2 of the document
    And the blocking finding says to quote the version

  Scenario Outline: A pipeline and a person see the same findings
    When I upload <a document>
    Then "stagegate check" of the same bytes reports the findings the upload reported
    And the version page lists the same findings

    Examples:
      | a document                                                       |
      | a document that says openapi: 3.1 without quotes on line 2       |
      | a document in which GET /orders/{id} has an empty security list  |

  Scenario: A pipeline is told what is wrong in the same words as a person
    When I upload a YAML document indented with a tab on line 4
    Then the upload is refused with status 422 and the error "spec_unreadable"
    And "stagegate check" refuses the same bytes with the same message at the same line
