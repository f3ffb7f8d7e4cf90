-- wrk script for examples/peer-bench/run.sh: every request is a POST, its body and headers
-- taken from the environment:
--   BENCH_BODY    the body
--   BENCH_TYPE    its content type (default application/x-www-form-urlencoded)
--   BENCH_BASIC   base64 of "client_id:client_secret" for HTTP Basic client authentication
--                 (client_secret_basic); empty or unset: no Authorization header
--   BENCH_SPREAD  N: each request's body has "%d" replaced by the next of 1..N in turn (to
--                 spread logins over N accounts); unset: the body as is
wrk.method = "POST"
local basic = os.getenv("BENCH_BASIC")
if basic ~= nil and basic ~= "" then
  wrk.headers["Authorization"] = "Basic " .. basic
end
wrk.headers["Content-Type"] = os.getenv("BENCH_TYPE") or "application/x-www-form-urlencoded"
wrk.body = os.getenv("BENCH_BODY")

local spread = tonumber(os.getenv("BENCH_SPREAD") or "")
if spread ~= nil and spread > 0 then
  local turn = 0
  request = function()
    turn = turn % spread + 1
    local body = wrk.body:gsub("%%d", tostring(turn))
    return wrk.format(nil, nil, nil, body)
  end
end
