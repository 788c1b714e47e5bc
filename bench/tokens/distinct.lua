-- bench/tokens/distinct.lua: every request carries the next token from a file (one
-- token a line), cycling, so a verifier's cache of verified tokens does not help as
-- long as the file holds more tokens than the cache can keep.
--
--   wrk -t1 -c32 -d10s --latency -s distinct.lua http://HOST/auth/verify -- TOKENS_FILE
--
-- The requests are formatted once in init(); request() only picks the next one.
-- With several wrk threads each starts at a different offset.
local reqs = {}
local i = 0

function init(args)
  local path = args[1]
  if not path then error("distinct.lua: pass the token file after --") end
  local f = assert(io.open(path, "r"))
  for line in f:lines() do
    if #line > 0 then
      reqs[#reqs + 1] = wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. line })
    end
  end
  f:close()
  if #reqs == 0 then error("distinct.lua: no tokens in " .. path) end
  i = (id or 0) * math.floor(#reqs / 7)
end

local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function request()
  i = i + 1
  if i > #reqs then i = 1 end
  return reqs[i]
end
