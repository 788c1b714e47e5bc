-- bench/soak/pace.lua: wrk paced to about one request per connection per millisecond, so
-- the soak is sustained load, not saturation (a saturated machine would shed sign-ins
-- with 503 busy by design, and the soak asserts zero 5xx).
function delay()
	return 1
end
