"""Reports over the result tables: review pages, queue, scorecards, clips."""
