"""The ADV structuring audit: diagnosis from a FEC (or Levier's own books) and a questionnaire,
levers in euros and a prioritized action plan.

Not to be confused with `levier.audit`, the audit trail of who did what.
"""
