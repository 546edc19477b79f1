"""virus-scan-result: GuardDuty's scan-result event and the verdict confirmed by its tag."""
