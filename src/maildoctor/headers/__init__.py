"""Full-header analysis: Received-chain parsing, hop delays with clock-skew handling, the sender's
clock, authentication and spam verdicts, and the join with our own log (`maildoctor headers`)."""
