-- Version 4 is taken by a change developed alongside this one (API credentials). This empty
-- step only keeps the versions contiguous until both are merged; drop it then.
SELECT 1;
