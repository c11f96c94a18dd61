"""Review: four-eyes promotion requests and the approvers' decisions (:mod:`.approvals`)."""
