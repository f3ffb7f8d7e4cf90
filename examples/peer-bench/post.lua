-- wrk script for examples/peer-bench/run.sh: every request is the same POST with HTTP Basic
-- client authentication (client_secret_basic) and a form body, both taken from the environment:
--   BENCH_BASIC  base64 of "client_id:client_secret"
--   BENCH_BODY   the urlencoded form body
wrk.method = "POST"
wrk.headers["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = os.getenv("BENCH_BODY")
