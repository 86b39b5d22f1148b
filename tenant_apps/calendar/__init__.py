"""Calendar events, recurrence, due dates and iCal feeds."""
