"""SLA clocks: business calendars with Korean public holidays, policy matching, due times that
pause while a ticket waits on its requester, and reminders/breach notices sent exactly once."""
