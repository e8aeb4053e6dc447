-- Version 4 is another branch's migration; this file keeps the versions contiguous until
-- that branch is merged, and is deleted then.
SELECT 1;
