-- wrk script: each connection waits a while after a response before it sends its next request, so
-- a run offers about CONNECTIONS * 1000 / ms requests a second instead of as many as the server can
-- answer. The wait is drawn uniformly from 1 .. 2·ms − 1 whole milliseconds (mean ms), so that
-- the connections do not fall into step and arrive in bursts. wrk times each request from when it
-- is sent, so the wait is not part of the latencies it reports. Headers given with -H are sent as
-- usual.
local ms = 1

function init(args)
  ms = tonumber(args[1]) or error("paced.lua: give the mean wait in milliseconds after --")
  math.randomseed(os.time())
end

function delay()
  if ms <= 1 then
    return 1
  end
  return math.random(1, 2 * ms - 1)
end
